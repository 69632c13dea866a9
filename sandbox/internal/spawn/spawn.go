// Package spawn starts child processes from one OS thread that never exits.
//
// Pdeathsig fires when the forking *thread* dies, not the process
// (golang/go#27505). The Go runtime retires the thread of any goroutine that
// locks its thread and ends without unlocking it, which podnet does on
// purpose after switching network namespaces; a child forked from such a
// thread would be SIGKILLed at a random later moment. Forking every child
// from one locked, immortal thread keeps Pdeathsig meaning "the sandbox
// process died".
package spawn

import (
	"os/exec"
	"runtime"
	"sync"
)

type request struct {
	cmd   *exec.Cmd
	reply chan error
}

var (
	once sync.Once
	ch   chan request
)

// Start starts cmd (cmd.Start) on the spawner thread.
func Start(cmd *exec.Cmd) error {
	once.Do(func() {
		ch = make(chan request)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread lives as long as the process
			for req := range ch {
				req.reply <- req.cmd.Start()
			}
		}()
	})
	reply := make(chan error, 1)
	ch <- request{cmd: cmd, reply: reply}
	return <-reply
}
