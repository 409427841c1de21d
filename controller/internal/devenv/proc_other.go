//go:build !linux

package devenv

import "syscall"

// dieWithParent: only Linux can tie a child's end to its parent's; elsewhere dev's agents are
// stopped by dev's own cleanup.
func dieWithParent() *syscall.SysProcAttr { return nil }
