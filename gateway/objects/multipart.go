package objects

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/s3err"
)

// Multipart limits.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	MaxParts    = 10000
	// MaxPutSize is the largest single PUT (and copy source) S3 accepts.
	MaxPutSize = 5 << 30
)

// CompletedPart is one entry of a CompleteMultipartUpload request.
type CompletedPart struct {
	PartNumber int
	ETag       string
	// Checksums the client lists for the part (algorithm -> base64).
	Checksums map[string]string
}

// Completion is the validated result of a part list.
type Completion struct {
	Parts     []int
	PartSizes []int64
	Size      int64
	ETag      string
	// Checksum of the whole object for the upload's algorithm ("" if none).
	Checksum     string
	ChecksumType string
}

// PlanCompletion validates a client's part list against the uploaded parts
// (ascending order, every part present with its ETag, non-last parts at least
// MinPartSize) and computes the object's ETag and checksum.
func PlanCompletion(req []CompletedPart, uploaded []backends.PartInfo, alg, ctype string) (*Completion, *s3err.Error) {
	if len(req) == 0 {
		return nil, s3err.MalformedXML.With("The XML you provided was not well-formed or did not validate against our published schema: no parts.")
	}
	byNum := make(map[int]backends.PartInfo, len(uploaded))
	for _, p := range uploaded {
		byNum[p.PartNumber] = p
	}
	c := &Completion{ChecksumType: ctype}
	md5s := md5.New()
	var composite []byte
	var crcs []partCRC
	prev := 0
	for i, rp := range req {
		if rp.PartNumber <= prev {
			return nil, s3err.InvalidPartOrder
		}
		prev = rp.PartNumber
		p, ok := byNum[rp.PartNumber]
		if !ok || strings.Trim(rp.ETag, `" `) != p.ETag {
			return nil, s3err.InvalidPart
		}
		if i < len(req)-1 && p.Size < MinPartSize {
			return nil, s3err.EntityTooSmall
		}
		for a, v := range rp.Checksums {
			if v != "" && p.Checksums[a] != "" && v != p.Checksums[a] {
				return nil, s3err.InvalidPart.With(fmt.Sprintf("The %s you specified for part %d did not match what was uploaded.", a, p.PartNumber))
			}
		}
		raw, err := hex.DecodeString(p.ETag)
		if err != nil {
			return nil, s3err.InvalidPart
		}
		md5s.Write(raw)
		if alg != "" {
			sum, err := base64.StdEncoding.DecodeString(p.Checksums[alg])
			if err != nil || len(sum) != rawLen(alg) {
				return nil, s3err.InvalidPart.With(fmt.Sprintf("Part %d has no %s checksum.", p.PartNumber, alg))
			}
			composite = append(composite, sum...)
			crcs = append(crcs, partCRC{sum: sum, size: p.Size})
		}
		c.Parts = append(c.Parts, p.PartNumber)
		c.PartSizes = append(c.PartSizes, p.Size)
		c.Size += p.Size
	}
	c.ETag = fmt.Sprintf("%s-%d", hex.EncodeToString(md5s.Sum(nil)), len(req))
	if alg != "" {
		if c.ChecksumType == FullObject {
			sum, ok := combineCRCs(alg, crcs)
			if !ok {
				return nil, s3err.InvalidRequest.With("The FULL_OBJECT checksum type is not supported for " + alg + ".")
			}
			c.Checksum = base64.StdEncoding.EncodeToString(sum)
		} else {
			h := NewHash(alg)
			h.Write(composite)
			c.Checksum = fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(h.Sum(nil)), len(req))
		}
	}
	return c, nil
}

// DefaultChecksumType is the checksum type S3 uses for a multipart upload
// when the client names none.
func DefaultChecksumType(alg string) string {
	if alg == CRC64NVME {
		return FullObject
	}
	return Composite
}

type partCRC struct {
	sum  []byte
	size int64
}

// combineCRCs joins per-part CRCs into the CRC of the concatenation.
func combineCRCs(alg string, parts []partCRC) ([]byte, bool) {
	var poly uint64
	var width int
	switch alg {
	case CRC32:
		poly, width = 0xedb88320, 32
	case CRC32C:
		poly, width = 0x82f63b78, 32
	case CRC64NVME:
		poly, width = 0x9a6c9329ac4bc9b5, 64
	default:
		return nil, false
	}
	var crc uint64
	for i, p := range parts {
		var v uint64
		if width == 32 {
			v = uint64(binary.BigEndian.Uint32(p.sum))
		} else {
			v = binary.BigEndian.Uint64(p.sum)
		}
		if i == 0 {
			crc = v
			continue
		}
		crc = crcCombine(poly, width, crc, v, p.size)
	}
	if width == 32 {
		return binary.BigEndian.AppendUint32(nil, uint32(crc)), true
	}
	return binary.BigEndian.AppendUint64(nil, crc), true
}

// crcCombine returns the CRC of A||B given crc(A), crc(B) and len(B), for a
// reflected CRC with init and final xor all ones (zlib's crc32_combine,
// generalised to 64 bits).
func crcCombine(poly uint64, width int, crc1, crc2 uint64, len2 int64) uint64 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [64]uint64
	odd[0] = poly
	row := uint64(1)
	for n := 1; n < width; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(width, even[:], odd[:])
	gf2Square(width, odd[:], even[:])
	for {
		gf2Square(width, even[:], odd[:])
		if len2&1 != 0 {
			crc1 = gf2Times(even[:], crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
		gf2Square(width, odd[:], even[:])
		if len2&1 != 0 {
			crc1 = gf2Times(odd[:], crc1)
		}
		len2 >>= 1
		if len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat []uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(width int, square, mat []uint64) {
	for n := 0; n < width; n++ {
		square[n] = gf2Times(mat, mat[n])
	}
}

// PartRange returns the byte range of part n (1-based) of an object with
// the given part sizes; a single-part object has one part of its size.
func PartRange(partSizes []int64, size int64, n int) (offset, length int64, ok bool) {
	if len(partSizes) == 0 {
		if n == 1 {
			return 0, size, true
		}
		return 0, 0, false
	}
	if n < 1 || n > len(partSizes) {
		return 0, 0, false
	}
	for i := 0; i < n-1; i++ {
		offset += partSizes[i]
	}
	return offset, partSizes[n-1], true
}
