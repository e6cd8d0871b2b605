package registry_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/authpilot/authpilot/internal/registry"
)

func TestRegistry(t *testing.T) {
	r := registry.New[int]("test: kind")
	r.Add("b", 2, nil)
	r.Add("a", 1, nil)
	if got := r.Names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Names = %v", got)
	}
	if k, ok := r.Lookup("b"); !ok || k != 2 {
		t.Errorf("Lookup(b) = %d, %v", k, ok)
	}
	if _, ok := r.Lookup("c"); ok {
		t.Error("Lookup(c) found a kind")
	}
	if k, ok := r.Find(func(k int) bool { return k > 1 }); !ok || k != 2 {
		t.Errorf("Find = %d, %v", k, ok)
	}
}

func TestRegistryPanics(t *testing.T) {
	tests := []struct {
		name  string
		add   func(r *registry.Registry[int])
		panic string
	}{
		{"empty name", func(r *registry.Registry[int]) { r.Add("", 1, nil) }, "test: kind: registered without a name"},
		{"twice", func(r *registry.Registry[int]) { r.Add("a", 3, nil) }, "test: kind registered twice: a"},
		{"clash", func(r *registry.Registry[int]) {
			r.Add("c", 1, func(o int) string {
				if o == 1 {
					return "claims what a claims"
				}
				return ""
			})
		}, "test: kind c: claims what a claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := registry.New[int]("test: kind")
			r.Add("a", 1, nil)
			defer func() {
				if got := fmt.Sprint(recover()); got != tt.panic {
					t.Errorf("panic = %q, want %q", got, tt.panic)
				}
				if n := len(r.Names()); n != 1 {
					t.Errorf("%d kinds after a refused Add, want 1", n)
				}
			}()
			tt.add(r)
		})
	}
}
