package report

import "strings"

// Field values in Markdown tables. Two whole values side by side hide what
// changed when they are long: a ConfigMap's redis.conf is many lines, and
// two long values cut at the same length read the same. So a multi-line value
// shows as the lines that change, and a long single value keeps its head and
// tail, or the place where the two values part.

const (
	// cellRunes is the longest value, or line of a value, a cell shows.
	cellRunes = 80
	// cellLines is the most changed lines a cell lists per side.
	cellLines = 8
	// diffCells bounds the line diff's table (lines × lines); beyond it
	// every line between the common head and tail counts as changed.
	diffCells = 1 << 22
)

// FieldCells renders the live and desired values of one field for the two
// cells of a Markdown table row, redacted. When either value has more than
// one line, the live cell lists the lines the change removes ("- maxmemory
// 100mb") and the desired cell the lines it adds ("+ maxmemory 200mb"), as
// code spans separated by <br> (which GitHub and Gitea render in tables). A
// single value longer than 80 characters is cut in the middle, keeping its
// head and tail; when that would make two different values read the same,
// each shows the place where they part instead. An empty value, or a side
// with no changed line, gives an empty cell. Pipes are left to the table to
// escape.
func FieldCells(live, desired string) (liveCell, desiredCell string) {
	if strings.Contains(live, "\n") || strings.Contains(desired, "\n") {
		removed, added := lineDiff(live, desired)
		return lineCell("-", removed), lineCell("+", added)
	}
	// Redact before cutting: a cut could split "requirepass" from its value.
	l, d := cutPair(redact(live), redact(desired), cellRunes)
	return code(l), code(d)
}

// lineDiff returns the lines of a that are not in b and the lines of b that
// are not in a, each in order, by a longest common subsequence of lines: a
// line that moved shows as removed and added.
func lineDiff(a, b string) (removed, added []string) {
	x, y := lines(a), lines(b)
	for len(x) > 0 && len(y) > 0 && x[0] == y[0] {
		x, y = x[1:], y[1:]
	}
	for len(x) > 0 && len(y) > 0 && x[len(x)-1] == y[len(y)-1] {
		x, y = x[:len(x)-1], y[:len(y)-1]
	}
	if len(x)*len(y) > diffCells {
		return x, y
	}
	// common[i][j] is the length of the longest common subsequence of
	// x[i:] and y[j:].
	common := make([][]int, len(x)+1)
	for i := range common {
		common[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				common[i][j] = common[i+1][j+1] + 1
			} else {
				common[i][j] = max(common[i+1][j], common[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		switch {
		case x[i] == y[j]:
			i, j = i+1, j+1
		case common[i+1][j] >= common[i][j+1]:
			removed = append(removed, x[i])
			i++
		default:
			added = append(added, y[j])
			j++
		}
	}
	return append(removed, x[i:]...), append(added, y[j:]...)
}

// lines splits a value into its lines; a final newline ends the last line
// rather than starting an empty one.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// lineCell lists changed lines, each marked with sign, at most cellLines of
// them, then how many more there are.
func lineCell(sign string, ls []string) string {
	var parts []string
	for i, l := range ls {
		if i == cellLines {
			parts = append(parts, plural(len(ls)-cellLines, "more line"))
			break
		}
		parts = append(parts, code(cutMiddle(redact(sign+" "+l), cellRunes)))
	}
	return strings.Join(parts, "<br>")
}

// cutPair cuts two values to at most n runes each so that, when they
// differ, the cut values differ too.
func cutPair(a, b string, n int) (string, string) {
	ca, cb := cutMiddle(a, n), cutMiddle(b, n)
	if ca != cb || a == b {
		return ca, cb
	}
	// Head and tail agree: the difference is in the part cut out.
	ra, rb := []rune(a), []rune(b)
	p := 0
	for p < len(ra) && p < len(rb) && ra[p] == rb[p] {
		p++
	}
	return window(ra, p, n), window(rb, p, n)
}

// cutMiddle keeps the head and tail of s, n runes in all with the "…"
// that stands for the middle.
func cutMiddle(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	head := (n - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

// window is at most n runes of r around rune p: a quarter before it, the
// rest after, with "…" where r goes on.
func window(r []rune, p, n int) string {
	start := max(0, p-n/4)
	end := min(len(r), start+n-2)
	s := string(r[start:end])
	if start > 0 {
		s = "…" + s
	}
	if end < len(r) {
		s += "…"
	}
	return s
}
