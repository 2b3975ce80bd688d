package objects

import (
	"strconv"
	"strings"

	"github.com/cloudraya/raya/backends"
)

// ParseRange parses an HTTP Range header as S3 does: one range of bytes
// ("bytes=0-9", "bytes=10-", "bytes=-5"). It returns nil for an absent
// header and, like S3, for a header it cannot use (syntax errors, several
// ranges), which means "the whole object". A syntactically valid range that
// selects nothing is reported by the backend (backends.ErrInvalidRange).
func ParseRange(h string) *backends.Range {
	h = strings.TrimSpace(h)
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil
	}
	if first == "" {
		n, err := parseUint(last)
		if err != nil || n == 0 {
			if err == nil {
				// bytes=-0 selects nothing.
				return &backends.Range{Offset: 0, Length: 0}
			}
			return nil
		}
		return &backends.Range{Offset: -n, Length: -1}
	}
	off, err := parseUint(first)
	if err != nil {
		return nil
	}
	if last == "" {
		return &backends.Range{Offset: off, Length: -1}
	}
	end, err := parseUint(last)
	if err != nil || end < off {
		return nil
	}
	n := end - off + 1
	if n <= 0 { // overflow
		return &backends.Range{Offset: off, Length: -1}
	}
	return &backends.Range{Offset: off, Length: n}
}

func parseUint(s string) (int64, error) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}
