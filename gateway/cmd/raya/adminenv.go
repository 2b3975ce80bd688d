package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cloudraya/raya/gateway/admin"
)

// Environment variables of the admin subcommands.
const (
	envEndpoint    = "RAYA_ENDPOINT"
	envAccessKey   = "RAYA_ACCESS_KEY"
	envSecretKey   = "RAYA_SECRET_KEY"
	envCABundle    = "RAYA_CA_BUNDLE"
	envAWSCABundle = "AWS_CA_BUNDLE"

	defaultEndpoint = "http://127.0.0.1:9000"
	requestTimeout  = 2 * time.Minute
)

// adminEnv builds the admin client from the environment, on first use, so
// commands that do not talk to a server (serve, version, help) need none of
// it.
type adminEnv struct {
	getenv func(string) string
}

// client returns an admin client for the configured endpoint. Warnings go to
// stderr.
func (e *adminEnv) client(stderr io.Writer) (*admin.Client, error) {
	endpoint := strings.TrimSpace(e.getenv(envEndpoint))
	if endpoint == "" {
		endpoint = defaultEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s=%q is not a URL like https://s3.example.com or http://127.0.0.1:9000", envEndpoint, endpoint)
	}
	ak, sk := e.getenv(envAccessKey), e.getenv(envSecretKey)
	var missing []string
	if ak == "" {
		missing = append(missing, envAccessKey)
	}
	if sk == "" {
		missing = append(missing, envSecretKey)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s not set: admin commands sign their requests with the gateway's root key pair; set %s and %s",
			strings.Join(missing, " and "), envAccessKey, envSecretKey)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		fmt.Fprintf(stderr, "raya: warning: %s uses plain HTTP to %s; new secret keys cross the network unencrypted\n", envEndpoint, u.Host)
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	bundleVar, bundle := envCABundle, e.getenv(envCABundle)
	if bundle == "" {
		bundleVar, bundle = envAWSCABundle, e.getenv(envAWSCABundle)
	}
	if bundle != "" {
		pool, err := loadCABundle(bundle)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bundleVar, err)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	hc := &http.Client{Transport: transport, Timeout: requestTimeout}
	return admin.NewClient(endpoint, ak, sk, hc), nil
}

// loadCABundle returns the system roots plus the certificates in the PEM
// file at path.
func loadCABundle(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificates found in " + path)
	}
	return pool, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
