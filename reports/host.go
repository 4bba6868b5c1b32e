package reports

import (
	"os"
	"runtime"
)

// HostMeta returns m with its empty machine fields (GoVersion, OS, Arch,
// Hostname, CPUs) filled from the running process. Callers apply it to real
// runs; tests leave it out so that output stays reproducible.
func HostMeta(m RunMeta) RunMeta {
	if m.GoVersion == "" {
		m.GoVersion = runtime.Version()
	}
	if m.OS == "" {
		m.OS = runtime.GOOS
	}
	if m.Arch == "" {
		m.Arch = runtime.GOARCH
	}
	if m.CPUs == 0 {
		m.CPUs = runtime.NumCPU()
	}
	if m.Hostname == "" {
		if h, err := os.Hostname(); err == nil {
			m.Hostname = h
		}
	}
	return m
}
