// Package registry is the one shape of authpilot's plug-in registries
// (connector kinds, sink kinds): kinds by name, added from their packages'
// init functions and looked up by the config loader and the agent.
package registry

import (
	"sort"
	"sync"
)

// Registry maps names to kinds. It is safe for concurrent use.
type Registry[K any] struct {
	what string
	mu   sync.RWMutex
	m    map[string]K
}

// New returns an empty registry of what ("connectors: kind", say: the
// prefix of its panics).
func New[K any](what string) *Registry[K] {
	return &Registry[K]{what: what, m: map[string]K{}}
}

// Add registers k under name. It panics on an empty or taken name, and
// with the message clash returns for any kind registered before (clash may
// be nil): these are programming errors found at start-up.
func (r *Registry[K]) Add(name string, k K, clash func(other K) string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		panic(r.what + ": registered without a name")
	}
	if _, dup := r.m[name]; dup {
		panic(r.what + " registered twice: " + name)
	}
	if clash != nil {
		for _, o := range r.m {
			if msg := clash(o); msg != "" {
				panic(r.what + " " + name + ": " + msg)
			}
		}
	}
	r.m[name] = k
}

// Lookup returns the kind registered under name.
func (r *Registry[K]) Lookup(name string) (K, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.m[name]
	return k, ok
}

// Names returns the registered names, sorted.
func (r *Registry[K]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Find returns the first kind, in name order, for which match is true.
func (r *Registry[K]) Find(match func(K) bool) (K, bool) {
	for _, n := range r.Names() {
		if k, ok := r.Lookup(n); ok && match(k) {
			return k, true
		}
	}
	var zero K
	return zero, false
}
