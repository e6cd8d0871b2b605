package config

import "sync/atomic"

// Holder holds the current Config of a file. Reload parses and validates
// the file again and swaps the result in atomically; when the new file is
// bad, the old Config stays in force.
type Holder struct {
	path string
	cur  atomic.Pointer[Config]
}

// NewHolder loads path.
func NewHolder(path string) (*Holder, error) {
	cfg, err := Load(path)
	if err != nil {
		return nil, err
	}
	h := &Holder{path: path}
	h.cur.Store(cfg)
	return h, nil
}

// Config returns the Config in force. Callers must not modify it.
func (h *Holder) Config() *Config { return h.cur.Load() }

// Reload loads the file again. On success the new Config is in force and
// returned; on failure the error is returned and nothing changes.
func (h *Holder) Reload() (*Config, error) {
	cfg, err := Load(h.path)
	if err != nil {
		return nil, err
	}
	h.cur.Store(cfg)
	return cfg, nil
}
