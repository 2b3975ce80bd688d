package objects

import (
	"net"
	"strings"
	"unicode/utf8"

	"github.com/cloudraya/raya/gateway/s3err"
)

// MaxKeyLength is the longest object key S3 accepts, in bytes.
const MaxKeyLength = 1024

// ValidateKey checks an object key: non-empty, valid UTF-8, at most 1024
// bytes. Any other byte sequence ("//", "../", "%", a trailing "/") is a
// legal key.
func ValidateKey(key string) *s3err.Error {
	switch {
	case key == "":
		return s3err.InvalidObjectName.With("Object key must not be empty.")
	case len(key) > MaxKeyLength:
		return s3err.KeyTooLongError
	case !utf8.ValidString(key):
		return s3err.InvalidObjectName.With("Object key is not valid UTF-8.")
	}
	return nil
}

// ValidBucketName applies S3's bucket naming rules.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	first, last := name[0], name[len(name)-1]
	if first == '-' || first == '.' || last == '-' || last == '.' {
		return false
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	if net.ParseIP(name) != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}
