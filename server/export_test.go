package server

// HostsHeld is how many topics the server holds a host for.
func (s *Server) HostsHeld() int { return s.hostsHeld() }
