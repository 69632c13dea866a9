package forge

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// MaxCommentLen is the longest comment Upsert posts, in bytes: below
// GitHub's limit of 65,536 characters, with room to spare.
const MaxCommentLen = 60000

// Superseded is the text of a part left over from a longer plan.
const Superseded = "(superseded: the plan is shorter now)"

// Upsert keeps one comment per marker on a pull request, or one per part
// when body is longer than MaxCommentLen: marker is a hidden HTML comment
// such as "<!-- redis-gitops plan prod/cache -->", naming the pull
// request's plan for one cluster.
//
// Each part is posted with a marker line first, marker itself for a body
// of one part, "<!-- redis-gitops plan prod/cache part 2/3 -->" style for
// more. Upsert lists every comment of the pull request (all pages), takes
// those whose first line is such a marker, oldest first, and edits them in
// place as parts 1, 2, …; it creates only the parts missing, and edits
// those beyond the last part to Superseded, so that nothing stale stays.
// Comments already right are not edited. Duplicates (say a create that
// timed out but happened) are used up the same way, so they heal on the
// next call.
//
// It returns the IDs of the parts' comments, in order.
func Upsert(ctx context.Context, p Provider, pr int, marker, body string) ([]int64, error) {
	m, err := parseMarker(marker)
	if err != nil {
		return nil, err
	}
	body = strings.TrimPrefix(body, marker+"\n")
	parts := Split(body, MaxCommentLen-len(m.part(999, 999)))

	all, err := p.ListComments(ctx, pr)
	if err != nil {
		return nil, fmt.Errorf("upsert %s: %w", m.name(), err)
	}
	var mine []Comment
	for _, c := range all {
		if m.marks(c.Body) {
			mine = append(mine, c)
		}
	}
	// Forges list oldest first; IDs grow with time, so sort by them in
	// case a listing does not.
	slices.SortStableFunc(mine, func(a, b Comment) int { return cmp.Compare(a.ID, b.ID) })

	ids := make([]int64, 0, len(parts))
	for i, part := range parts {
		text := m.part(i+1, len(parts)) + part
		if i < len(mine) {
			if mine[i].Body != text {
				if err := p.EditComment(ctx, mine[i].ID, text); err != nil {
					return nil, fmt.Errorf("upsert %s: part %d/%d: %w", m.name(), i+1, len(parts), err)
				}
			}
			ids = append(ids, mine[i].ID)
			continue
		}
		c, err := p.CreateComment(ctx, pr, text)
		if err != nil {
			return nil, fmt.Errorf("upsert %s: part %d/%d: %w", m.name(), i+1, len(parts), err)
		}
		ids = append(ids, c.ID)
	}
	for i := len(parts); i < len(mine); i++ {
		text := m.superseded(i+1) + Superseded
		if mine[i].Body == text {
			continue
		}
		if err := p.EditComment(ctx, mine[i].ID, text); err != nil {
			return nil, fmt.Errorf("upsert %s: supersede comment %d: %w", m.name(), mine[i].ID, err)
		}
	}
	return ids, nil
}

// marker is a caller's "<!-- X -->", split as "<!-- X" and " -->".
type marker struct {
	whole, stem, end string
}

func parseMarker(s string) (marker, error) {
	inner, ok := strings.CutPrefix(s, "<!--")
	if ok {
		inner, ok = strings.CutSuffix(inner, "-->")
	}
	if !ok || strings.TrimSpace(inner) == "" || strings.ContainsAny(s, "\r\n") || strings.Contains(inner, "-->") {
		return marker{}, fmt.Errorf("upsert: marker %q is not a one-line HTML comment such as \"<!-- redis-gitops plan prod/cache -->\"", s)
	}
	stem := strings.TrimRight(strings.TrimSuffix(s, "-->"), " ")
	return marker{whole: s, stem: stem, end: s[len(stem):]}, nil
}

// name is what the marker says, for errors.
func (m marker) name() string {
	return strings.TrimSpace(strings.TrimPrefix(m.stem, "<!--"))
}

// part is the first line of part i of n.
func (m marker) part(i, n int) string {
	if n == 1 {
		return m.whole + "\n"
	}
	return fmt.Sprintf("%s part %d/%d%s\n", m.stem, i, n, m.end)
}

// superseded is the first line of a left-over part.
func (m marker) superseded(i int) string {
	return fmt.Sprintf("%s part %d superseded%s\n", m.stem, i, m.end)
}

var partSuffix = regexp.MustCompile(`^ part \d+(/\d+| superseded)$`)

// marks reports whether body's first line is one of m's marker lines.
// Forges may hand back "\r\n" line ends, and leading blank lines are
// ignored.
func (m marker) marks(body string) bool {
	first, _, _ := strings.Cut(strings.TrimLeft(body, " \t\r\n"), "\n")
	first = strings.TrimSpace(first)
	if first == m.whole {
		return true
	}
	rest, ok := strings.CutPrefix(first, m.stem)
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, m.end)
	return ok && partSuffix.MatchString(rest)
}
