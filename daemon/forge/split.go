package forge

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Split cuts a Markdown body into parts of at most max bytes (so at most
// max characters too), each of which renders on its own as the matching
// piece of the whole:
//
//   - parts end between lines, preferably at a blank line or before a
//     heading, and are at least half full when they can be;
//   - a fenced code block cut in two is closed at the end of one part and
//     reopened, with its info string, at the start of the next;
//   - a table cut in two repeats its header and delimiter rows at the start
//     of the next part, and is never cut between those two;
//   - a line longer than a part is cut at a character boundary,
//     preferably after a space; inside a fenced block its pieces become
//     lines of the block.
//
// Outside fences and tables the parts joined are the body. A body that
// fits, or max <= 0, gives one part; an empty body gives one empty part.
// With a max too small to hold a fence's closing and opening lines, parts
// still hold at least one character each and may exceed max.
func Split(body string, max int) []string {
	if max <= 0 || len(body) <= max {
		return []string{body}
	}
	lines, bounds := scanMarkdown(body, max)
	n := len(lines)
	var parts []string
	start, prefix := 0, ""
	for start < n {
		end, over, size := -1, -1, len(prefix)
		// best[p] is the last boundary of priority p or more at which the
		// part fits, and sizes[p] the size of that part.
		var best, sizes [4]int
		for p := range best {
			best[p] = -1
		}
		for e := start + 1; e <= n; e++ {
			size += len(lines[e-1])
			if size > max {
				over = e - 1
				break
			}
			if e == n {
				end = n
				break
			}
			b := bounds[e]
			if b.prio < 0 || size+len(b.close) > max {
				continue
			}
			for p := 0; p <= b.prio; p++ {
				best[p], sizes[p] = e, size+len(b.close)
			}
		}
		for p := len(best) - 1; end < 0 && p >= 0; p-- {
			if best[p] >= 0 && sizes[p] >= max/2 {
				end = best[p]
			}
		}
		if end < 0 && !fitsAlone(lines, bounds, over, max) {
			// The line that does not fit must be cut anyway: cut it here,
			// filling this part, rather than leave the part short (or
			// holding only a fence's opening).
			part, rest, next := cutLine(lines[over], prefix+strings.Join(lines[start:over], ""), bounds[over], max)
			parts = append(parts, part)
			start, lines[over], prefix = over, rest, next
			continue
		}
		if end < 0 {
			end = best[0]
		}
		if end < 0 {
			// Only the boundary between a table's header and delimiter
			// rows fits: break the table rather than a line.
			end = start + 1
		}
		part := prefix + strings.Join(lines[start:end], "")
		if end < n {
			part += bounds[end].close
			prefix = bounds[end].open
		}
		parts = append(parts, part)
		start = end
	}
	return parts
}

// fitsAlone reports whether line i fits in a part of its own.
func fitsAlone(lines []string, bounds []boundary, i, max int) bool {
	size := len(bounds[i].open) + len(lines[i])
	if i+1 < len(lines) {
		size += len(bounds[i+1].close)
	}
	return size <= max
}

// boundary is the place before a line, seen as the end of one part and the
// start of the next.
type boundary struct {
	// close ends a part here: a fenced block's closing line.
	close string
	// open starts a part here: the fenced block's opening line, or the
	// table's header and delimiter rows.
	open string
	// inFence is set inside a fenced block.
	inFence bool
	// prio ranks boundaries: 3 after a blank line or before a heading, 2
	// between other lines, 1 inside a fenced block or a table, 0 where
	// that leaves an empty block or a table without rows, -1 never
	// (between a table's header and delimiter rows).
	prio int
}

// scanMarkdown cuts body into lines, each with its "\n", and describes the
// boundary before each (bounds[0] is the body's start, not a boundary).
// Openings longer than a third of max are not repeated (a bare fence
// replaces a long opening line; a long table header is dropped) so that
// parts keep room for content.
func scanMarkdown(body string, max int) (lines []string, bounds []boundary) {
	lines = strings.SplitAfter(body, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	bounds = make([]boundary, len(lines))
	var (
		fence      fenceLine // the open fenced block, if fence.n > 0
		fenceAt    int       // the line opening it
		tableHead  string    // the open table's header and delimiter rows
		delimiter  = -1      // the line of the open table's delimiter row
		headerNext bool      // the line before was a table's header row
	)
	for i, line := range lines {
		if i > 0 {
			b := &bounds[i]
			switch {
			case fence.n > 0:
				b.inFence = true
				b.open, b.close = fence.opening(lines[fenceAt], max), fence.closing()
				b.prio = 1
				if i-1 == fenceAt || fence.closedBy(line) {
					b.prio = 0
				}
			case headerNext:
				b.prio = -1
			case tableHead != "":
				if len(tableHead) <= max/3 {
					b.open = tableHead
				}
				b.prio = 1
				if i-1 == delimiter {
					b.prio = 0
				}
			default:
				b.prio = 2
				if isBlank(lines[i-1]) || isHeading(line) {
					b.prio = 3
				}
			}
		}
		switch {
		case fence.n > 0:
			if fence.closedBy(line) {
				fence = fenceLine{}
			}
		case headerNext:
			headerNext, delimiter = false, i
			tableHead = withNewline(lines[i-1]) + withNewline(line)
		default:
			if f, ok := openingFence(line); ok {
				fence, fenceAt, tableHead = f, i, ""
				continue
			}
			if tableHead != "" && isBlank(line) {
				tableHead = ""
			}
			if tableHead == "" && strings.Contains(line, "|") && i+1 < len(lines) && isDelimiterRow(lines[i+1]) {
				headerNext = true
			}
		}
	}
	return lines, bounds
}

// cutLine cuts the first piece off line, which does not fit in a part
// with prefix, and returns the part, the rest of the line and the prefix
// of the part the rest starts. Inside a fenced block the piece ends the
// part as a line of the block; elsewhere the rest continues the line.
func cutLine(line, prefix string, b boundary, max int) (part, rest, next string) {
	room := max - len(prefix)
	if b.inFence {
		room -= 1 + len(b.close)
	}
	i := cutPoint(line, room)
	if !b.inFence {
		return prefix + line[:i], line[i:], ""
	}
	return prefix + line[:i] + "\n" + b.close, line[i:], b.open
}

// cutPoint is where to cut s to keep at most room bytes before the cut: at
// a character boundary, after a space if one is in the second half, never
// inside "\r\n", and after at least one character.
func cutPoint(s string, room int) int {
	if room >= len(s) {
		return len(s)
	}
	i := max(room, 0)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	if i > 0 && s[i-1] == '\r' && s[i] == '\n' {
		i--
	}
	if j := strings.LastIndexByte(s[:i], ' '); j >= 0 && j+1 >= i/2 {
		i = j + 1
	}
	if i == 0 {
		_, i = utf8.DecodeRuneInString(s)
	}
	return i
}

// fenceLine is the fence of a fenced code block (CommonMark: three or more
// backticks or tildes). Fences are recognised at any indentation so that
// those of list items count too.
type fenceLine struct {
	indent string
	char   byte
	n      int
}

func openingFence(line string) (fenceLine, bool) {
	rest := strings.TrimLeft(line, " \t")
	f := fenceLine{indent: line[:len(line)-len(rest)]}
	if rest == "" || (rest[0] != '`' && rest[0] != '~') {
		return fenceLine{}, false
	}
	f.char = rest[0]
	for f.n < len(rest) && rest[f.n] == f.char {
		f.n++
	}
	// A backtick fence's info string may not hold a backtick (that would be
	// inline code).
	if f.n < 3 || (f.char == '`' && strings.IndexByte(rest[f.n:], '`') >= 0) {
		return fenceLine{}, false
	}
	return f, true
}

// closedBy reports whether line closes the block: the same character, at
// least as many, and nothing else.
func (f fenceLine) closedBy(line string) bool {
	rest := strings.TrimSpace(line)
	return len(rest) >= f.n && strings.Trim(rest, string(f.char)) == ""
}

func (f fenceLine) closing() string {
	return f.indent + strings.Repeat(string(f.char), f.n) + "\n"
}

// opening is the line that reopens the block: its opening line, or a bare
// fence when that line is long.
func (f fenceLine) opening(line string, max int) string {
	if line = withNewline(line); len(line) <= max/3 {
		return line
	}
	return f.closing()
}

// delimiterRow matches a GFM table's delimiter row: cells of dashes with
// optional alignment colons, separated by pipes.
var delimiterRow = regexp.MustCompile(`^ {0,3}\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$`)

func isDelimiterRow(line string) bool {
	line = strings.TrimRight(line, "\r\n")
	// Without a pipe, "---" is a thematic break or a setext underline.
	return strings.Contains(line, "|") && delimiterRow.MatchString(line)
}

func isBlank(line string) bool { return strings.TrimSpace(line) == "" }

func isHeading(line string) bool {
	rest := strings.TrimLeft(line, " ")
	n := len(rest) - len(strings.TrimLeft(rest, "#"))
	return n >= 1 && n <= 6 && (len(rest) == n || rest[n] == ' ' || rest[n] == '\t' || rest[n] == '\n' || rest[n] == '\r')
}

func withNewline(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
