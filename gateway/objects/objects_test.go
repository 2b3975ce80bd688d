package objects

import (
	"encoding/base64"
	"encoding/binary"
	"testing"

	"github.com/cloudraya/raya/backends"
)

func TestCRC64NVMEVector(t *testing.T) {
	h := NewHash(CRC64NVME)
	h.Write([]byte("123456789"))
	if got := binary.BigEndian.Uint64(h.Sum(nil)); got != 0xae8b14860a799888 {
		t.Fatalf("crc64nvme = %x", got)
	}
}

func TestCRCCombine(t *testing.T) {
	a, b := []byte("hello, "), []byte("world of multipart uploads")
	for _, alg := range []string{CRC32, CRC32C, CRC64NVME} {
		ha, hb, hw := NewHash(alg), NewHash(alg), NewHash(alg)
		ha.Write(a)
		hb.Write(b)
		hw.Write(append(append([]byte{}, a...), b...))
		got, ok := combineCRCs(alg, []partCRC{{ha.Sum(nil), int64(len(a))}, {hb.Sum(nil), int64(len(b))}})
		if !ok || string(got) != string(hw.Sum(nil)) {
			t.Errorf("%s: combined %x, want %x", alg, got, hw.Sum(nil))
		}
	}
}

func TestParseRange(t *testing.T) {
	size := int64(100)
	for _, tc := range []struct {
		h           string
		nilRange    bool
		off, n      int64
		unsatisfied bool
	}{
		{h: "", nilRange: true},
		{h: "bytes=0-9", off: 0, n: 10},
		{h: "bytes=10-", off: 10, n: 90},
		{h: "bytes=-5", off: 95, n: 5},
		{h: "bytes=-500", off: 0, n: 100},
		{h: "bytes=90-200", off: 90, n: 10},
		{h: "bytes=100-", unsatisfied: true},
		{h: "bytes=-0", unsatisfied: true},
		{h: "bytes=5-1", nilRange: true},
		{h: "bytes=0-1,5-6", nilRange: true},
		{h: "items=0-1", nilRange: true},
		{h: "bytes=a-b", nilRange: true},
		{h: "bytes=+1-2", nilRange: true},
	} {
		r := ParseRange(tc.h)
		if tc.nilRange {
			if r != nil {
				t.Errorf("%q: got %+v, want nil", tc.h, r)
			}
			continue
		}
		if r == nil {
			t.Errorf("%q: got nil", tc.h)
			continue
		}
		off, n, err := r.Resolve(size)
		if tc.unsatisfied {
			if err != backends.ErrInvalidRange {
				t.Errorf("%q: err %v, want invalid range", tc.h, err)
			}
			continue
		}
		if err != nil || off != tc.off || n != tc.n {
			t.Errorf("%q: got %d,%d,%v want %d,%d", tc.h, off, n, err, tc.off, tc.n)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=10-", "bytes=-0", "bytes=9223372036854775807-", "bytes=0-9223372036854775807", "bytes=1-2,3-4", "bytes=", "bytes=--1"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		if size < 0 {
			return
		}
		r := ParseRange(h)
		if r == nil {
			return
		}
		off, n, err := r.Resolve(size)
		if err != nil {
			return
		}
		if off < 0 || n <= 0 || off+n > size || off+n < off {
			t.Fatalf("%q size %d: off %d n %d", h, size, off, n)
		}
	})
}

func TestPlanCompletion(t *testing.T) {
	big := int64(MinPartSize)
	sum := func(s string) map[string]string {
		h := NewHash(CRC32)
		h.Write([]byte(s))
		return map[string]string{CRC32: base64.StdEncoding.EncodeToString(h.Sum(nil))}
	}
	up := []backends.PartInfo{
		{PartNumber: 1, Size: big, ETag: "0cc175b9c0f1b6a831c399e269772661", Checksums: sum("a")},
		{PartNumber: 2, Size: 10, ETag: "92eb5ffee6ae2fec3ad71c777531578f", Checksums: sum("b")},
		{PartNumber: 3, Size: 10, ETag: "4a8a08f09d37b73795649038408b5f33", Checksums: sum("c")},
	}
	c, e := PlanCompletion([]CompletedPart{{1, `"0cc175b9c0f1b6a831c399e269772661"`, nil}, {2, "92eb5ffee6ae2fec3ad71c777531578f", nil}}, up, CRC32, Composite)
	if e != nil || c.ETag[len(c.ETag)-2:] != "-2" || c.Size != big+10 || len(c.PartSizes) != 2 || c.Checksum == "" {
		t.Fatalf("plan: %+v %v", c, e)
	}
	for name, req := range map[string][]CompletedPart{
		"order":    {{2, "92eb5ffee6ae2fec3ad71c777531578f", nil}, {1, "0cc175b9c0f1b6a831c399e269772661", nil}},
		"etag":     {{1, "ffff", nil}},
		"missing":  {{4, "x", nil}},
		"toosmall": {{2, "92eb5ffee6ae2fec3ad71c777531578f", nil}, {3, "4a8a08f09d37b73795649038408b5f33", nil}},
	} {
		if _, e := PlanCompletion(req, up, "", ""); e == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestValidBucketName(t *testing.T) {
	for name, ok := range map[string]bool{
		"photos": true, "my.bucket-1": true, "ab": false, "Photos": false, "-abc": false,
		"abc-": false, "a..b": false, "192.168.1.1": false, "xn--abc": false, "a_b": false,
	} {
		if ValidBucketName(name) != ok {
			t.Errorf("%q: want %v", name, ok)
		}
	}
}
