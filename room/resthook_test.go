package room

// restStore makes the REST store for the tests that run a real server.
// That store is roomrest.Store, which imports this package and so cannot
// be imported by these internal tests; resthook_ext_test.go (package
// room_test, compiled into the same test binary) sets it before any test
// runs.
var restStore func(serverURL string) Store

// SetRESTStore is how resthook_ext_test.go hands over roomrest.Store.
func SetRESTStore(f func(serverURL string) Store) { restStore = f }
