// Package didyoumean finds the name a person probably meant: the one edit
// distance helper and the one "did you mean" suggestion of authpilot, used
// by the config, connector and command-line decoders and by replay.
package didyoumean

import (
	"fmt"
	"strings"
)

// maxRunes bounds the names Suggest compares: longer ones are not typos of
// a key, and the distance is quadratic in length.
const maxRunes = 128

// Suggest returns ` (did you mean "x"?)` when exactly one candidate is
// closest to s and close enough to be a typo (case is ignored), else "".
func Suggest(s string, candidates []string) string {
	if best := Closest(s, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// Closest returns the candidate s is probably a typo of, or "" when none is
// within MaxTypos(s) edits or two are equally close.
func Closest(s string, candidates []string) string {
	if s == "" || len([]rune(s)) > maxRunes {
		return ""
	}
	ls := strings.ToLower(s)
	best, bestDist, ties := "", -1, 0
	for _, c := range candidates {
		if len([]rune(c)) > maxRunes {
			continue
		}
		d := Distance(ls, strings.ToLower(c))
		switch {
		case bestDist < 0 || d < bestDist:
			best, bestDist, ties = c, d, 0
		case d == bestDist && c != best:
			ties++
		}
	}
	if bestDist < 0 || ties > 0 || bestDist > MaxTypos(s) {
		return ""
	}
	return best
}

// MaxTypos is how many edits still count as a typo of s: about one in
// three characters, at most three.
func MaxTypos(s string) int {
	switch n := len([]rune(s)); {
	case n <= 3:
		return 1
	case n <= 8:
		return 2
	default:
		return 3
	}
}

// Distance is the edit distance between a and b in runes: insertions,
// deletions, substitutions and adjacent transpositions each count one
// (optimal string alignment).
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
