package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strings"
)

const (
	// maxChunkLine bounds a chunk header or trailer line.
	maxChunkLine = 4 << 10
	// maxTrailerLines bounds the number of trailing header lines.
	maxTrailerLines = 64
	// maxChunkSize bounds one chunk (S3's largest part is 5 GiB).
	maxChunkSize = 5 << 30
)

// chunkSigner holds what signed chunks are checked against.
type chunkSigner struct {
	key     []byte
	amzDate string // yyyyMMddTHHmmssZ
	scope   string
	prevSig string // seed signature, then each chunk's signature
}

func (s *chunkSigner) chunkSig(chunkHash []byte) string {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + s.amzDate + "\n" + s.scope + "\n" + s.prevSig + "\n" + emptySHA256 + "\n" + hex.EncodeToString(chunkHash)
	return signHex(s.key, sts)
}

func (s *chunkSigner) trailerSig(trailer []byte) string {
	h := sha256.Sum256(trailer)
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + s.amzDate + "\n" + s.scope + "\n" + s.prevSig + "\n" + hex.EncodeToString(h[:])
	return signHex(s.key, sts)
}

type chunkState int

const (
	stHeader chunkState = iota
	stData
	stDataEnd
	stDone
)

// chunkedReader decodes an aws-chunked body while streaming, verifying chunk
// signatures (signer != nil), the trailer signature (signed trailer mode) and
// the decoded length.
type chunkedReader struct {
	src        io.ReadCloser
	br         *bufio.Reader
	signer     *chunkSigner // nil for STREAMING-UNSIGNED-PAYLOAD-TRAILER
	trailer    bool         // a trailer section follows the last chunk
	decodedLen int64        // -1 if unknown
	total      int64

	state     chunkState
	remaining int64
	chunkSig  string
	h         hash.Hash
	err       error
	trailers  http.Header
}

func newChunkedReader(src io.ReadCloser, signer *chunkSigner, trailer bool, decodedLen int64) *chunkedReader {
	return &chunkedReader{
		src:        src,
		br:         bufio.NewReaderSize(src, 2*maxChunkLine),
		signer:     signer,
		trailer:    trailer,
		decodedLen: decodedLen,
		h:          sha256.New(),
		trailers:   http.Header{},
	}
}

func (c *chunkedReader) Close() error { return c.src.Close() }

// Trailer returns the trailing headers once the body has been read to EOF.
func (c *chunkedReader) Trailer() http.Header {
	if c.state != stDone || c.err != io.EOF {
		return http.Header{}
	}
	return c.trailers.Clone()
}

func malformed(format string, args ...any) *Error {
	return errorf(CodeInvalidRequest, "malformed aws-chunked body: "+format, args...)
}

func incomplete() *Error {
	return errorf(CodeIncompleteBody, "the request body terminated unexpectedly")
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.err == nil {
		switch c.state {
		case stHeader:
			c.err = c.readHeader()
		case stData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > c.remaining {
				p = p[:c.remaining]
			}
			n, err := c.br.Read(p)
			if n > 0 {
				c.remaining -= int64(n)
				if c.signer != nil {
					c.h.Write(p[:n])
				}
				if c.remaining == 0 {
					c.state = stDataEnd
				}
				return n, nil
			}
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				c.err = incomplete()
			} else if err != nil {
				c.err = err
			}
		case stDataEnd:
			c.err = c.endChunk()
		case stDone:
			c.err = io.EOF
		}
	}
	return 0, c.err
}

// readLine reads one line, bounded, without its line ending. A last line
// without a line ending is returned with io.EOF.
func (c *chunkedReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxChunkLine {
		return "", malformed("line too long")
	}
	if err != nil && err != io.EOF {
		return "", err
	}
	s := strings.TrimSuffix(string(line), "\n")
	s = strings.TrimSuffix(s, "\r")
	if err == io.EOF {
		return s, io.EOF
	}
	return s, nil
}

func (c *chunkedReader) readHeader() error {
	line, err := c.readLine()
	if err == io.EOF {
		return incomplete()
	}
	if err != nil {
		return err
	}
	sizeStr, ext, _ := strings.Cut(line, ";")
	sizeStr = strings.TrimSpace(sizeStr)
	size, ok := parseHexSize(sizeStr)
	if !ok {
		return malformed("invalid chunk size %q", truncate(sizeStr))
	}
	if c.signer != nil {
		sig := ""
		for e := range strings.SplitSeq(ext, ";") {
			k, v, _ := strings.Cut(e, "=")
			if strings.TrimSpace(k) == "chunk-signature" {
				sig = strings.ToLower(strings.TrimSpace(v))
			}
		}
		if !validSignature(sig) {
			return malformed("missing or invalid chunk-signature")
		}
		c.chunkSig = sig
	}
	if c.decodedLen >= 0 && size > c.decodedLen-c.total {
		return malformed("chunk sizes exceed x-amz-decoded-content-length")
	}
	c.total += size
	c.remaining = size
	c.h.Reset()
	if size == 0 {
		return c.finish()
	}
	c.state = stData
	return nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

func parseHexSize(s string) (int64, bool) {
	if s == "" || len(s) > 16 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d, ok := unhex(s[i])
		if !ok {
			return 0, false
		}
		n = n<<4 | int64(d)
		if n > maxChunkSize {
			return 0, false
		}
	}
	return n, true
}

// verifyChunk checks the signature of the chunk just read.
func (c *chunkedReader) verifyChunk() error {
	if c.signer == nil {
		return nil
	}
	want := c.signer.chunkSig(c.h.Sum(nil))
	if !constantTimeEqual(want, c.chunkSig) {
		return errorf(CodeSignatureDoesNotMatch, "the chunk signature does not match")
	}
	c.signer.prevSig = c.chunkSig
	return nil
}

// endChunk consumes the CRLF after chunk data and verifies the chunk.
func (c *chunkedReader) endChunk() error {
	line, err := c.readLine()
	if err != nil && !(err == io.EOF && line == "") {
		if err == io.EOF {
			return malformed("chunk data is longer than its size")
		}
		return err
	}
	if err == io.EOF {
		return incomplete()
	}
	if line != "" {
		return malformed("chunk data is longer than its size")
	}
	if err := c.verifyChunk(); err != nil {
		return err
	}
	c.state = stHeader
	return nil
}

// finish handles the zero-length last chunk, the trailer section and the
// final CRLF.
func (c *chunkedReader) finish() error {
	if err := c.verifyChunk(); err != nil {
		return err
	}
	if c.decodedLen >= 0 && c.total != c.decodedLen {
		return incomplete()
	}
	var signedTrailer bytes.Buffer
	trailerSig := ""
	lines := 0
	for {
		line, err := c.readLine()
		if err != nil && err != io.EOF {
			return err
		}
		if line == "" {
			// End of the trailer section, or a missing final CRLF.
			break
		}
		lines++
		if lines > maxTrailerLines {
			return malformed("too many trailer lines")
		}
		if !c.trailer {
			return malformed("unexpected data after the last chunk")
		}
		k, v, ok := strings.Cut(line, ":")
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if !ok || k == "" || !validHeaderName(k) {
			return malformed("invalid trailer line")
		}
		if k == "x-amz-trailer-signature" {
			if trailerSig != "" {
				return malformed("duplicate x-amz-trailer-signature")
			}
			trailerSig = strings.ToLower(v)
		} else {
			if trailerSig != "" {
				return malformed("trailer after x-amz-trailer-signature")
			}
			c.trailers.Add(k, v)
			signedTrailer.WriteString(k + ":" + v + "\n")
		}
		if err == io.EOF {
			break
		}
	}
	if c.signer != nil && c.trailer {
		if !validSignature(trailerSig) {
			return errorf(CodeSignatureDoesNotMatch, "missing or malformed x-amz-trailer-signature")
		}
		if !constantTimeEqual(c.signer.trailerSig(signedTrailer.Bytes()), trailerSig) {
			return errorf(CodeSignatureDoesNotMatch, "the trailer signature does not match")
		}
	}
	c.state = stDone
	return nil
}

// hashReader verifies a hex SHA-256 payload hash at EOF.
type hashReader struct {
	src  io.ReadCloser
	h    hash.Hash
	want []byte
	err  error
}

func (h *hashReader) Read(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	n, err := h.src.Read(p)
	h.h.Write(p[:n])
	if err == io.EOF {
		if !bytes.Equal(h.h.Sum(nil), h.want) {
			h.err = errorf(CodeXAmzContentSHA256Mismatch, "the provided 'x-amz-content-sha256' header does not match what was computed")
			return n, h.err
		}
		h.err = io.EOF
	} else if err != nil {
		h.err = err
	}
	return n, err
}

func (h *hashReader) Close() error { return h.src.Close() }
