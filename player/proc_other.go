//go:build !linux

package player

import "os/exec"

func setDeathSignal(*exec.Cmd) {}
