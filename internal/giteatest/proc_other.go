//go:build !linux

package giteatest

import (
	"os"
	"syscall"
)

// sysProcAttr has no Pdeathsig outside Linux: a crashed test may leave
// gitea running there.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}
