package giteatest

import "syscall"

// sysProcAttr puts gitea in a process group of its own and has the kernel
// kill it if the test binary dies first, so a crashed test leaves no
// server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills gitea and whatever else runs in its process group.
func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
