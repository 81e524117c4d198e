package tensor

import "syscall"

// osYield lets another runnable thread on this core go first (sched_yield):
// a polling thread then costs a thread it shares the core with almost
// nothing, while on an idle core the call returns at once.
func osYield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
