package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Default ports when a URL names a host without one.
const (
	defaultPort         = "6379"
	defaultSentinelPort = "26379"
)

// urlForms is quoted in every URL error, so an operator sees what is
// accepted without reading the source.
const urlForms = "redis://[[user]:pass@]host:port[/db], rediss://..., " +
	"redis+sentinel://[[user]:pass@]host:port[,host:port...]/mastername[/db], rediss+sentinel://..., " +
	"redis+cluster://[[user]:pass@]host:port[,host:port...], rediss+cluster://..."

// target is what a URL says: the deployment shape and the go-redis options.
type target struct {
	kind string // "single", "sentinel" or "cluster"
	opts *redis.UniversalOptions
}

// rawURL is a URL split by hand: net/url does not accept a list of hosts.
type rawURL struct {
	scheme   string
	userinfo string // still escaped
	hasUser  bool
	hosts    []string
	path     string
	query    url.Values
}

func splitURL(raw string) (*rawURL, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("missing scheme")
	}
	u := &rawURL{scheme: strings.ToLower(scheme)}
	rest, frag, _ := strings.Cut(rest, "#")
	if frag != "" {
		return nil, errors.New("a fragment is not allowed")
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, hasPath := strings.Cut(rest, "/")
	if hasPath {
		u.path = "/" + path
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		u.userinfo, u.hasUser = authority[:i], true
		authority = authority[i+1:]
	}
	if authority != "" {
		u.hosts = strings.Split(authority, ",")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	u.query = q
	return u, nil
}

// credentials decodes user:pass. A userinfo without a colon is a password
// (Redis before 6 had no user names); ":pass" is the same.
func (u *rawURL) credentials() (user, pass string, err error) {
	if !u.hasUser {
		return "", "", nil
	}
	rawUser, rawPass, hasColon := strings.Cut(u.userinfo, ":")
	if !hasColon {
		rawUser, rawPass = "", rawUser
	}
	if user, err = url.PathUnescape(rawUser); err != nil {
		return "", "", fmt.Errorf("user name: %w", err)
	}
	if pass, err = url.PathUnescape(rawPass); err != nil {
		return "", "", errors.New("password: invalid escape")
	}
	return user, pass, nil
}

// addrs validates the host list and adds the default port where missing.
func (u *rawURL) addrs(port string) ([]string, error) {
	if len(u.hosts) == 0 {
		return nil, errors.New("no host")
	}
	out := make([]string, 0, len(u.hosts))
	for _, h := range u.hosts {
		host, p := h, port
		if strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1 {
			var err error
			if host, p, err = net.SplitHostPort(h); err != nil {
				// "[::1]" has no port: SplitHostPort wants one.
				if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
					host, p, err = h[1:len(h)-1], port, nil
				} else {
					return nil, fmt.Errorf("host %q: %w", h, err)
				}
			}
		}
		if host == "" {
			return nil, fmt.Errorf("empty host in %q", strings.Join(u.hosts, ","))
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("host %q: invalid port %q", h, p)
		}
		out = append(out, net.JoinHostPort(host, p))
	}
	return out, nil
}

func parseDB(s string) (int, error) {
	db, err := strconv.Atoi(s)
	if err != nil || db < 0 {
		return 0, fmt.Errorf("invalid database number %q", s)
	}
	return db, nil
}

// Query parameters accepted by every form. Anything else is an error, so a
// typo never goes unnoticed.
var (
	durationParams = []string{"dial_timeout", "read_timeout", "write_timeout", "pool_timeout"}
	intParams      = []string{"pool_size", "max_retries"}
	sentinelParams = []string{"sentinel_username", "sentinel_password"}
)

// applyQuery sets o from the query parameters the package documents.
func applyQuery(q url.Values, kind string, tlsOn bool, o *redis.UniversalOptions) error {
	get := func(name string) (string, bool) {
		vs, ok := q[name]
		if !ok {
			return "", false
		}
		delete(q, name)
		return vs[len(vs)-1], true
	}
	for _, name := range durationParams {
		s, ok := get(name)
		if !ok {
			continue
		}
		d, err := parseDuration(s)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		switch name {
		case "dial_timeout":
			o.DialTimeout = d
		case "read_timeout":
			o.ReadTimeout = d
		case "write_timeout":
			o.WriteTimeout = d
		case "pool_timeout":
			o.PoolTimeout = d
		}
	}
	for _, name := range intParams {
		s, ok := get(name)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%s: invalid number %q", name, s)
		}
		switch name {
		case "pool_size":
			o.PoolSize = n
		case "max_retries":
			o.MaxRetries = n
		}
	}
	if s, ok := get("client_name"); ok {
		o.ClientName = s
	}
	if kind == "sentinel" {
		o.SentinelUsername, _ = get(sentinelParams[0])
		o.SentinelPassword, _ = get(sentinelParams[1])
	}
	if s, ok := get("skip_verify"); ok {
		if !tlsOn {
			return errors.New("skip_verify needs a TLS scheme (rediss...)")
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("skip_verify: invalid boolean %q", s)
		}
		o.TLSConfig.InsecureSkipVerify = b
	}
	if len(q) > 0 {
		var names []string
		for name := range q {
			names = append(names, name)
		}
		return fmt.Errorf("unknown query parameter(s) %s", strings.Join(names, ", "))
	}
	return nil
}

// parseDuration accepts a Go duration ("500ms") or whole seconds ("3").
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

// parseURL turns one of the documented URL forms into go-redis options.
func parseURL(raw string) (*target, error) {
	t, err := parseURLNoContext(raw)
	if err != nil {
		return nil, fmt.Errorf("redisstore: invalid Redis URL %q: %w (accepted forms: %s)", redact(raw), err, urlForms)
	}
	return t, nil
}

func parseURLNoContext(raw string) (*target, error) {
	u, err := splitURL(raw)
	if err != nil {
		return nil, err
	}
	base, kind, _ := strings.Cut(u.scheme, "+")
	tlsOn := base == "rediss"
	if base != "redis" && base != "rediss" {
		return nil, fmt.Errorf("unknown scheme %q", u.scheme)
	}
	switch kind {
	case "":
		kind = "single"
	case "sentinel", "cluster":
	default:
		return nil, fmt.Errorf("unknown scheme %q", u.scheme)
	}
	user, pass, err := u.credentials()
	if err != nil {
		return nil, err
	}
	o := &redis.UniversalOptions{Username: user, Password: pass}
	if tlsOn {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}

	switch kind {
	case "single":
		if len(u.hosts) > 1 {
			return nil, errors.New("several hosts: use redis+cluster:// for a cluster's seed nodes or redis+sentinel:// for sentinels")
		}
		// go-redis parses the single form; the query is ours (checked below),
		// so hand it only scheme, credentials, host and path.
		addrs, err := u.addrs(defaultPort)
		if err != nil {
			return nil, err
		}
		simple := url.URL{Scheme: base, Host: addrs[0], Path: u.path}
		so, err := redis.ParseURL(simple.String())
		if err != nil {
			return nil, err
		}
		o.Addrs, o.DB = []string{so.Addr}, so.DB
		if so.TLSConfig != nil {
			o.TLSConfig.ServerName = so.TLSConfig.ServerName
		}
	case "sentinel":
		if o.Addrs, err = u.addrs(defaultSentinelPort); err != nil {
			return nil, err
		}
		parts := strings.FieldsFunc(u.path, func(r rune) bool { return r == '/' })
		switch len(parts) {
		case 2:
			if o.DB, err = parseDB(parts[1]); err != nil {
				return nil, err
			}
			fallthrough
		case 1:
			if o.MasterName, err = url.PathUnescape(parts[0]); err != nil {
				return nil, fmt.Errorf("master name: %w", err)
			}
		case 0:
			return nil, errors.New("the master name is missing: redis+sentinel://host:port/mastername[/db]")
		default:
			return nil, fmt.Errorf("invalid path %q: want /mastername[/db]", u.path)
		}
	case "cluster":
		if o.Addrs, err = u.addrs(defaultPort); err != nil {
			return nil, err
		}
		if p := strings.Trim(u.path, "/"); p != "" && p != "0" {
			return nil, fmt.Errorf("invalid path %q: a Redis Cluster has only database 0", u.path)
		}
		o.IsClusterMode = true
	}
	// With several hosts one ServerName cannot fit all: leave it empty and
	// crypto/tls takes each connection's host name.
	if tlsOn && kind != "single" {
		o.TLSConfig.ServerName = ""
	}
	if err := applyQuery(u.query, kind, tlsOn, o); err != nil {
		return nil, err
	}
	return &target{kind: kind, opts: o}, nil
}

// redact hides the passwords of a URL for error messages.
func redact(raw string) string {
	if i := strings.Index(raw, "sentinel_password="); i >= 0 {
		i += len("sentinel_password=")
		j := strings.IndexAny(raw[i:], "&#")
		if j < 0 {
			j = len(raw) - i
		}
		raw = raw[:i] + "xxxxx" + raw[i+j:]
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	i := strings.LastIndexByte(authority, '@')
	if i < 0 {
		return raw
	}
	user, _, hasColon := strings.Cut(authority[:i], ":")
	if !hasColon {
		user = ""
	}
	return scheme + "://" + user + ":xxxxx@" + authority[i+1:] + tail
}
