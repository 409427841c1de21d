package devenv

import "syscall"

// dieWithParent has the kernel stop an agent dev started when dev itself ends, even killed
// (kill -9, a supervisor's timeout), so that no demo agent outlives its demo and keeps calling a
// controller that is gone.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
