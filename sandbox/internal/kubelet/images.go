package kubelet

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Image is what the sandbox runs for a container image: the host's programs,
// with the entrypoint, default command and working dir the real image has.
type Image struct {
	// Entrypoint and Cmd mirror the image's ENTRYPOINT and CMD: a container's
	// command replaces Entrypoint, its args replace Cmd.
	Entrypoint []string
	Cmd        []string
	WorkingDir string
	// Fix adjusts the final argv as the image's entrypoint script would
	// (redis's docker-entrypoint.sh prepends redis-server to bare flags).
	Fix func(argv []string) []string
}

// ImageTable maps image repository names (without registry, tag or digest)
// to local programs. Keys may end in "*" to match a prefix.
type ImageTable map[string]Image

// DefaultImages is the sandbox's image table: Redis and Valkey run the
// host's redis-server; a few base images run the host's shell. One known
// difference: the official redis image builds redis-server with protected
// mode off, Debian's has it on, so manifests that rely on the image's
// default must say `protected-mode no` (the blog's redis.conf does).
var DefaultImages = ImageTable{
	"redis":   {Cmd: []string{"redis-server"}, WorkingDir: "/data", Fix: redisEntrypoint},
	"valkey":  {Cmd: []string{"redis-server"}, WorkingDir: "/data", Fix: redisEntrypoint},
	"busybox": {Cmd: []string{"sh"}},
	"debian":  {Cmd: []string{"bash"}},
	"alpine":  {Cmd: []string{"sh"}},
}

// redisEntrypoint is docker-entrypoint.sh of the official redis image: a
// first argument that is a flag or a .conf file means "redis-server ...".
func redisEntrypoint(argv []string) []string {
	if len(argv) > 0 && (strings.HasPrefix(argv[0], "-") || strings.HasSuffix(argv[0], ".conf")) {
		return append([]string{"redis-server"}, argv...)
	}
	return argv
}

// ErrImageNotMapped is returned for an image the sandbox cannot run; the
// kubelet reports it as ErrImagePull, as a real one would for a missing image.
type ErrImageNotMapped struct {
	Image string
	Known []string
}

func (e *ErrImageNotMapped) Error() string {
	return fmt.Sprintf("image %q has no local program in the sandbox's image table (known: %s)", e.Image, strings.Join(e.Known, ", "))
}

// repository strips registry, tag and digest: "docker.io/library/redis:7" -> "redis".
func repository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	parts := strings.Split(image, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:]
	}
	if len(parts) > 1 && parts[0] == "library" {
		parts = parts[1:]
	}
	return path.Join(parts...)
}

// Resolve finds the image for a container image reference.
func (t ImageTable) Resolve(image string) (Image, error) {
	repo := repository(image)
	if img, ok := t[repo]; ok {
		return img, nil
	}
	for k, img := range t {
		if strings.HasSuffix(k, "*") && strings.HasPrefix(repo, strings.TrimSuffix(k, "*")) {
			return img, nil
		}
	}
	known := make([]string, 0, len(t))
	for k := range t {
		known = append(known, k)
	}
	sort.Strings(known)
	return Image{}, &ErrImageNotMapped{Image: image, Known: known}
}

// Argv is the process's argument vector for a container, following the
// Kubernetes rules for command/args against the image's ENTRYPOINT/CMD.
func (img Image) Argv(command, args []string) []string {
	var argv []string
	switch {
	case len(command) > 0:
		argv = append(append(argv, command...), args...)
	case len(args) > 0:
		argv = append(append(argv, img.Entrypoint...), args...)
	default:
		argv = append(append(argv, img.Entrypoint...), img.Cmd...)
	}
	if img.Fix != nil && len(command) == 0 {
		argv = img.Fix(argv)
	}
	return argv
}
