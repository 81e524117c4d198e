package tensor

import "testing"

func TestUseKernels(t *testing.T) {
	sets := KernelSets()
	if len(sets) == 0 || sets[len(sets)-1] != "go" {
		t.Fatalf("KernelSets() = %v, want the portable set last", sets)
	}
	def := KernelName()
	if def != sets[0] {
		t.Errorf("KernelName() = %q, want the fastest set %q", def, sets[0])
	}
	restore, err := UseKernels("go")
	if err != nil {
		t.Fatal(err)
	}
	if got := KernelName(); got != "go" {
		t.Errorf("after UseKernels(go): KernelName() = %q", got)
	}
	restore()
	if got := KernelName(); got != def {
		t.Errorf("after restore: KernelName() = %q, want %q", got, def)
	}
	if _, err := UseKernels("avx1024"); err == nil {
		t.Error("UseKernels(avx1024): no error")
	}
}
