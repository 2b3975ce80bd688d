package redisstore

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	type want struct {
		kind       string
		addrs      []string
		user, pass string
		db         int
		master     string
		tls        bool
		serverName string
		sentUser   string
		sentPass   string
	}
	for _, tc := range []struct {
		url  string
		want want
	}{
		{"redis://127.0.0.1:6379/0", want{kind: "single", addrs: []string{"127.0.0.1:6379"}}},
		{"redis://localhost", want{kind: "single", addrs: []string{"localhost:6379"}}},
		{"redis://cache.internal:6380/3", want{kind: "single", addrs: []string{"cache.internal:6380"}, db: 3}},
		{"redis://s3cret@h:1/1", want{kind: "single", addrs: []string{"h:1"}, pass: "s3cret", db: 1}},
		{"redis://:s3cret@h:1", want{kind: "single", addrs: []string{"h:1"}, pass: "s3cret"}},
		{"redis://raya:p%40ss%3Aword@h:1/", want{kind: "single", addrs: []string{"h:1"}, user: "raya", pass: "p@ss:word"}},
		{"redis://[::1]:7000/2", want{kind: "single", addrs: []string{"[::1]:7000"}, db: 2}},
		{"redis://[::1]", want{kind: "single", addrs: []string{"[::1]:6379"}}},
		{"REDIS://h:1", want{kind: "single", addrs: []string{"h:1"}}},
		{"rediss://u:p@redis.example.com:6380/0", want{kind: "single", addrs: []string{"redis.example.com:6380"}, user: "u", pass: "p", tls: true, serverName: "redis.example.com"}},
		{"redis+sentinel://s1:26379,s2:26380,s3/mymaster", want{kind: "sentinel", addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, master: "mymaster"}},
		{"redis+sentinel://pw@s1:26379/mymaster/4", want{kind: "sentinel", addrs: []string{"s1:26379"}, master: "mymaster", pass: "pw", db: 4}},
		{"redis+sentinel://s1/m?sentinel_password=sp&sentinel_username=su", want{kind: "sentinel", addrs: []string{"s1:26379"}, master: "m", sentUser: "su", sentPass: "sp"}},
		{"rediss+sentinel://s1:1,s2:2/m", want{kind: "sentinel", addrs: []string{"s1:1", "s2:2"}, master: "m", tls: true}},
		{"redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3", want{kind: "cluster", addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:6379"}}},
		{"redis+cluster://n1:7000", want{kind: "cluster", addrs: []string{"n1:7000"}}},
		{"redis+cluster://u:p@n1:7000,n2:7001/0", want{kind: "cluster", addrs: []string{"n1:7000", "n2:7001"}, user: "u", pass: "p"}},
		{"rediss+cluster://n1:7000,n2:7001/", want{kind: "cluster", addrs: []string{"n1:7000", "n2:7001"}, tls: true}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := parseURL(tc.url)
			if err != nil {
				t.Fatalf("parseURL: %v", err)
			}
			o := got.opts
			g := want{
				kind: got.kind, addrs: o.Addrs, user: o.Username, pass: o.Password, db: o.DB,
				master: o.MasterName, tls: o.TLSConfig != nil, sentUser: o.SentinelUsername, sentPass: o.SentinelPassword,
			}
			if o.TLSConfig != nil {
				g.serverName = o.TLSConfig.ServerName
			}
			if strings.Join(g.addrs, ",") != strings.Join(tc.want.addrs, ",") {
				t.Errorf("addrs = %q, want %q", g.addrs, tc.want.addrs)
			}
			g.addrs, tc.want.addrs = nil, nil
			if !reflect.DeepEqual(g, tc.want) {
				t.Errorf("parsed = %+v, want %+v", g, tc.want)
			}
			if (got.kind == "cluster") != o.IsClusterMode {
				t.Errorf("IsClusterMode = %v for a %s URL", o.IsClusterMode, got.kind)
			}
		})
	}
}

func TestParseURLQuery(t *testing.T) {
	got, err := parseURL("redis+cluster://n1:1,n2:2?dial_timeout=250ms&read_timeout=2&write_timeout=3s&pool_timeout=4s&pool_size=7&max_retries=-1&client_name=gw1")
	if err != nil {
		t.Fatal(err)
	}
	o := got.opts
	if o.DialTimeout != 250*time.Millisecond || o.ReadTimeout != 2*time.Second || o.WriteTimeout != 3*time.Second ||
		o.PoolTimeout != 4*time.Second || o.PoolSize != 7 || o.MaxRetries != -1 || o.ClientName != "gw1" {
		t.Errorf("options = %+v", o)
	}
	got, err = parseURL("rediss://h:1?skip_verify=true")
	if err != nil {
		t.Fatal(err)
	}
	if !got.opts.TLSConfig.InsecureSkipVerify {
		t.Error("skip_verify=true did not reach the TLS config")
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"127.0.0.1:6379", "missing scheme"},
		{"http://h:1", "unknown scheme"},
		{"redis+foo://h:1", "unknown scheme"},
		{"unix:///tmp/redis.sock", "unknown scheme"},
		{"redis://", "no host"},
		{"redis://h:1,h:2", "redis+cluster://"},
		{"redis://h:1/x", "database number"},
		{"redis://h:1/1/2", "path"},
		{"redis://h:99999", "port"},
		{"redis://h:port", "port"},
		{"redis://h:1?db=2", "unknown query parameter"},
		{"redis://h:1?dial_timeout=soon", "dial_timeout"},
		{"redis://h:1?pool_size=x", "pool_size"},
		{"redis://h:1?skip_verify=true", "TLS scheme"},
		{"redis://h:1?sentinel_password=x", "unknown query parameter"},
		{"redis://h:1#frag", "fragment"},
		{"redis+sentinel://s1,s2", "master name is missing"},
		{"redis+sentinel://s1/m/x", "database number"},
		{"redis+sentinel://s1/m/1/2", "path"},
		{"redis+sentinel:///m", "no host"},
		{"redis+cluster://n1:1,n2:2/3", "only database 0"},
		{"redis+cluster://n1:1,,n2:2", "empty host"},
		{"redis+cluster://", "no host"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := parseURL(tc.url)
			if err == nil {
				t.Fatalf("parseURL(%q) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "redis+cluster://") {
				t.Errorf("err = %v, want it to list the accepted forms", err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"redis://u:secret@h:1/0", "redis://u:xxxxx@h:1/0"},
		{"redis://secret@h:1", "redis://:xxxxx@h:1"},
		{"redis+sentinel://s1/m?sentinel_password=secret&x=1", "redis+sentinel://s1/m?sentinel_password=xxxxx&x=1"},
		{"redis://h:1", "redis://h:1"},
	} {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	_, err := parseURL("redis://u:secret@h:1/x")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks the password: %v", err)
	}
}
