package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input panics, and that every failure is an
// *Errors whose entries name the file. Seeds: every scenario in testdata
// and the examples.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"*.yaml", "testdata/bad/*.yaml", "testdata/plans/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err == nil {
			if s == nil {
				t.Fatal("nil scenario and nil error")
			}
			if s.Load.Calls <= 10_000 {
				Plan(s, 1)
			}
			return
		}
		var errs *Errors
		if !errors.As(err, &errs) || len(errs.List) == 0 {
			t.Fatalf("error %v (%T) is not a non-empty *Errors", err, err)
		}
		for _, fe := range errs.List {
			if fe.File != "f.yaml" {
				t.Fatalf("error without its file: %v", fe)
			}
		}
	})
}
