// Package pki is a small certificate authority for mutual TLS between
// nodes, on crypto/x509 and crypto/tls: it issues short-lived ECDSA
// certificates naming a node, and an Identity serves the current
// certificate and trust bundle to crypto/tls through callbacks, so that
// certificates and even the CA are rotated while connections keep
// working: a handshake always takes the newest certificate, and the trust
// bundle holds the old and new CA for as long as certificates of both are
// in use.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// CA is a certificate authority: a self-signed root and its key.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	now  func() time.Time
}

// NewCA creates a root valid for ttl from now().
func NewCA(name string, ttl time.Duration, now func() time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             t.Add(-time.Minute),
		NotAfter:              t.Add(ttl),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	return &CA{Cert: c, key: key, now: now}, err
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// Issue returns a certificate for node name, usable as both TLS server
// and client (nodes are both), valid for ttl.
func (ca *CA) Issue(name string, ttl time.Duration) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	t := ca.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    t.Add(-time.Minute),
		NotAfter:     t.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// EncodePEM returns a certificate in PEM.
func EncodePEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// maxPEM bounds what ParseCertificatePEM reads.
const maxPEM = 64 << 10

// ParseCertificatePEM reads one PEM certificate, refusing anything else
// in the input. It never panics (FuzzParseCertificatePEM).
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	if len(data) > maxPEM {
		return nil, fmt.Errorf("pki: certificate PEM longer than %d bytes", maxPEM)
	}
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, errors.New("pki: no PEM block")
	}
	if b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("pki: PEM block is %q, want CERTIFICATE", b.Type)
	}
	if len(b.Headers) != 0 {
		return nil, errors.New("pki: PEM headers in a certificate")
	}
	if p, _ := pem.Decode(rest); p != nil {
		return nil, errors.New("pki: more than one PEM block")
	}
	return x509.ParseCertificate(b.Bytes)
}

// Identity is what one node presents and trusts. Its methods are safe
// for concurrent use; tls.Configs made by ServerConfig and ClientConfig
// read it at every handshake.
type Identity struct {
	mu    sync.RWMutex
	cert  *tls.Certificate
	roots *x509.CertPool
	now   func() time.Time
}

// NewIdentity returns an identity presenting cert and trusting the CAs.
func NewIdentity(cert tls.Certificate, now func() time.Time, trusted ...*x509.Certificate) *Identity {
	id := &Identity{now: now}
	id.SetCertificate(cert)
	id.SetTrusted(trusted...)
	return id
}

// SetCertificate replaces the certificate for handshakes from now on;
// established connections keep theirs.
func (id *Identity) SetCertificate(c tls.Certificate) {
	id.mu.Lock()
	id.cert = &c
	id.mu.Unlock()
}

// SetTrusted replaces the trust bundle. During a CA rotation it holds the
// old and new CA, until no certificate of the old one is left.
func (id *Identity) SetTrusted(cas ...*x509.Certificate) {
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	id.mu.Lock()
	id.roots = pool
	id.mu.Unlock()
}

func (id *Identity) current() (*tls.Certificate, *x509.CertPool) {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return id.cert, id.roots
}

// verify checks the peer's chain against the current bundle, for both
// sides; expectName, if set, is the server name the client wants.
func (id *Identity) verify(cs tls.ConnectionState, usage x509.ExtKeyUsage, expectName string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("pki: peer presented no certificate")
	}
	_, roots := id.current()
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		CurrentTime: id.now(), DNSName: expectName, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

// ServerConfig requires and verifies client certificates.
func (id *Identity) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.RequireAnyClientCert, // verified below, against the bundle of the moment
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { c, _ := id.current(); return c, nil },
		VerifyConnection: func(cs tls.ConnectionState) error {
			return id.verify(cs, x509.ExtKeyUsageClientAuth, "")
		},
	}
}

// ClientConfig presents our certificate and verifies that the server is
// the node named server.
func (id *Identity) ClientConfig(server string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Verification is done by VerifyConnection against the current
		// bundle (a static RootCAs could not follow a CA rotation).
		InsecureSkipVerify:   true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { c, _ := id.current(); return c, nil },
		VerifyConnection: func(cs tls.ConnectionState) error {
			return id.verify(cs, x509.ExtKeyUsageServerAuth, server)
		},
	}
}
