package weaviatetest

import "syscall"

// dieWithParent makes the kernel kill the server when the test binary
// dies (a timeout, a panic), so no weaviate-server outlives its tests.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
