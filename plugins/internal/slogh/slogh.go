// Package slogh adapts log/slog to hashicorp/go-hclog, the logger
// go-plugin speaks, so that go-plugin's own logs and the plugin logs it
// forwards end up in one slog.Logger.
package slogh

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is slog's level for hclog's Trace.
const LevelTrace = slog.LevelDebug - 4

// New returns an hclog.Logger writing into l.
func New(l *slog.Logger) hclog.Logger {
	return &logger{l: l, level: new(levelVar)}
}

type levelVar struct {
	mu sync.Mutex
	l  hclog.Level // NoLevel: defer to the slog handler
}

type logger struct {
	l       *slog.Logger
	name    string
	implied []any
	level   *levelVar
}

func toSlog(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (g *logger) enabled(level hclog.Level) bool {
	g.level.mu.Lock()
	min := g.level.l
	g.level.mu.Unlock()
	if min != hclog.NoLevel && level < min {
		return false
	}
	return g.l.Enabled(context.Background(), toSlog(level))
}

func (g *logger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || !g.enabled(level) {
		return
	}
	// hclog passes an odd trailing value sometimes; slog copes (!BADKEY).
	g.l.Log(context.Background(), toSlog(level), msg, args...)
}

func (g *logger) Trace(msg string, args ...any) { g.Log(hclog.Trace, msg, args...) }
func (g *logger) Debug(msg string, args ...any) { g.Log(hclog.Debug, msg, args...) }
func (g *logger) Info(msg string, args ...any)  { g.Log(hclog.Info, msg, args...) }
func (g *logger) Warn(msg string, args ...any)  { g.Log(hclog.Warn, msg, args...) }
func (g *logger) Error(msg string, args ...any) { g.Log(hclog.Error, msg, args...) }

func (g *logger) IsTrace() bool { return g.enabled(hclog.Trace) }
func (g *logger) IsDebug() bool { return g.enabled(hclog.Debug) }
func (g *logger) IsInfo() bool  { return g.enabled(hclog.Info) }
func (g *logger) IsWarn() bool  { return g.enabled(hclog.Warn) }
func (g *logger) IsError() bool { return g.enabled(hclog.Error) }

func (g *logger) ImpliedArgs() []any { return g.implied }

func (g *logger) With(args ...any) hclog.Logger {
	c := *g
	c.l = g.l.With(args...)
	c.implied = append(append([]any(nil), g.implied...), args...)
	return &c
}

func (g *logger) Name() string { return g.name }

func (g *logger) Named(name string) hclog.Logger {
	if g.name != "" {
		name = g.name + "." + name
	}
	return g.ResetNamed(name)
}

func (g *logger) ResetNamed(name string) hclog.Logger {
	c := *g
	c.name = name
	return &c
}

func (g *logger) SetLevel(level hclog.Level) {
	g.level.mu.Lock()
	g.level.l = level
	g.level.mu.Unlock()
}

func (g *logger) GetLevel() hclog.Level {
	g.level.mu.Lock()
	defer g.level.mu.Unlock()
	return g.level.l
}

func (g *logger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(g.StandardWriter(opts), "", 0)
}

func (g *logger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return &LineWriter{Log: func(line string) { g.Log(level, line) }}
}

// LineWriter calls Log once per line written to it (without the newline).
type LineWriter struct {
	Log func(line string)
	mu  sync.Mutex
	buf []byte
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
		if line != "" {
			w.Log(line)
		}
	}
	if len(w.buf) > 64<<10 { // an endless line: flush what we have
		w.Log(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}
