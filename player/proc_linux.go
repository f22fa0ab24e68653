package player

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills mpv if this process dies without calling Close.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
