package portal

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authpilot/authpilot"
	"github.com/authpilot/authpilot/internal/didyoumean"
)

// uploadStep attaches files to a file input.
type uploadStep struct {
	Selector sel
	// Attachments uploads the case's attachments (filtered by Kinds).
	Attachments bool
	// Response uploads the files of a respond flow's response.
	Response bool
	Kinds    []string
	// Files are path templates, for files outside the case.
	Files []*tmpl
}

func decodeUpload(d *decoder, n *yaml.Node, path string, inEach bool) action {
	a := &uploadStep{}
	if !d.mapping(n, path, "upload: ", []field{
		{"selector", true, func(k, v *yaml.Node) { a.Selector = d.sel(v, path, "upload: ", "selector", inEach) }},
		{"files", true, func(k, v *yaml.Node) {
			r := d.node(v, path)
			if r == nil {
				return
			}
			if r.Kind == yaml.ScalarNode {
				switch r.Value {
				case "attachments":
					a.Attachments = true
				case "response":
					a.Response = true
				default:
					d.errAt(r, path, "upload: files: expected \"attachments\", \"response\" or a list of file paths, got %q%s", r.Value, didyoumean.Suggest(r.Value, []string{"attachments", "response"}))
				}
				return
			}
			d.sequence(v, path, "upload: files: ", func(i int, item *yaml.Node) {
				if t := d.template(item, path, "upload: ", fmt.Sprintf("files[%d]", i), inEach); t != nil {
					a.Files = append(a.Files, t)
				}
			})
		}},
		{"kinds", false, func(k, v *yaml.Node) {
			d.sequence(v, path, "upload: kinds: ", func(i int, item *yaml.Node) {
				a.Kinds = append(a.Kinds, d.str(item, path, "upload: ", "kinds"))
			})
		}},
	}) {
		return a
	}
	if len(a.Kinds) > 0 && !a.Attachments {
		d.errAt(d.node(n, path), path, "upload: kinds filters attachments: set files: attachments")
	}
	return a
}

func (a *uploadStep) run(x *exec) error {
	el, err := x.element(a.Selector, exists)
	if err != nil {
		return err
	}
	paths, err := x.uploadFiles(a)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return nil // nothing to upload for this case
	}
	// A portal may send a file as soon as it is chosen: never before the
	// page showed the case's request.
	if err := x.r.checkGuard(); err != nil {
		return err
	}
	if err := x.beforeAct(); err != nil {
		return err
	}
	if err := el.SetFiles(paths); err != nil {
		return x.actErr("attach files", err)
	}
	return nil
}

// uploadFiles resolves the files of an upload step to local paths.
func (x *exec) uploadFiles(a *uploadStep) ([]string, error) {
	var paths []string
	for _, t := range a.Files {
		p, err := x.render(t)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(p); err != nil {
			return nil, x.fail(authpilot.ErrNeedsHuman, "a file to upload is missing", err)
		}
		paths = append(paths, p)
	}
	if a.Response {
		if x.r.data.Response == nil {
			return nil, x.fail(authpilot.ErrNeedsHuman, "files: response is only set in a respond flow", nil)
		}
		for _, f := range x.r.data.Response.Files {
			paths = append(paths, f.Path)
		}
	}
	if !a.Attachments || x.r.data.Case == nil {
		return paths, nil
	}
	for i, att := range x.r.data.Case.Attachments {
		if len(a.Kinds) > 0 && !slices.Contains(a.Kinds, att.Kind) {
			continue
		}
		p, err := x.r.s.c.attachmentPath(att)
		if err != nil {
			return nil, x.fail(authpilot.ErrNeedsHuman, fmt.Sprintf("attachment %d: %v", i+1, err), nil)
		}
		// The portal gets the file under its own name (and so the media
		// type its extension says), not the store's sha256.
		named, err := x.r.s.namedCopy(p, att, i)
		if err != nil {
			return nil, x.fail(authpilot.ErrNeedsHuman, fmt.Sprintf("attachment %d: prepare upload", i+1), err)
		}
		paths = append(paths, named)
	}
	return paths, nil
}

// namedCopy places the content at p under the attachment's own file name
// in the visit's work directory (removed when the visit ends), linked or
// copied, and returns its path.
func (s *Session) namedCopy(p string, att authpilot.Attachment, i int) (string, error) {
	work, err := s.workDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(work, fmt.Sprintf("upload-%d-%d", time.Now().UnixNano(), i))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("create upload directory: %w", err)
	}
	dst := filepath.Join(dir, uploadName(att, i))
	if err := os.Link(p, dst); err == nil {
		return dst, nil
	}
	in, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return dst, out.Close()
}

// uploadName is an attachment's file name made safe for a file system: its
// base name without separators or control characters, with an extension
// for its media type when it has none.
func uploadName(att authpilot.Attachment, i int) string {
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == ':' {
			return '_'
		}
		return r
	}, filepath.Base(strings.ReplaceAll(att.Name, "\\", "/")))
	if name == "" || name == "." || name == ".." || name == "_" {
		name = fmt.Sprintf("attachment-%d", i+1)
	}
	if len(name) > 200 {
		name = name[len(name)-200:]
	}
	if filepath.Ext(name) == "" && att.ContentType != "" {
		if exts, _ := mime.ExtensionsByType(att.ContentType); len(exts) > 0 {
			name += exts[0]
		}
	}
	return name
}

// attachmentPath finds an attachment's content: its intake path, or the
// store's content-addressed copy under the data directory.
func (c *Connector) attachmentPath(att authpilot.Attachment) (string, error) {
	if att.Path != "" {
		if _, err := os.Stat(att.Path); err == nil {
			return att.Path, nil
		}
	}
	if att.SHA256 != "" && c.env.DataDir != "" && validSHA(att.SHA256) {
		for _, p := range []string{
			filepath.Join(c.env.DataDir, "documents", att.SHA256),
			filepath.Join(c.env.DataDir, "documents", att.SHA256[:2], att.SHA256),
		} {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", errors.New("content not found (no intake path and no stored copy)")
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func validSHA(s string) bool { return shaRE.MatchString(s) }
