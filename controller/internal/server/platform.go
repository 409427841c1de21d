package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lookout-synthetics/lookout/controller/internal/api"
	"github.com/lookout-synthetics/lookout/controller/internal/dispatcher"
	"github.com/lookout-synthetics/lookout/controller/internal/vault"
	pb "github.com/lookout-synthetics/lookout/internal/pb/lookoutv1"
)

// loadPlatform reads the platform certificate archive. It is kept in memory only, never in the vault.
func loadPlatform(file, passwordFile string) (*api.Platform, error) {
	if file == "" {
		if passwordFile != "" {
			return nil, fmt.Errorf("--platform-cert-password-file given without --platform-cert-file")
		}
		return nil, nil
	}
	archive, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading --platform-cert-file: %w", err)
	}
	password := ""
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, fmt.Errorf("reading --platform-cert-password-file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	imp, err := vault.ImportPKCS12(archive, password, time.Now())
	if err != nil {
		return nil, fmt.Errorf("platform certificate %s: %w", file, err)
	}
	var chain strings.Builder
	for _, der := range imp.ChainDER {
		chain.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	return &api.Platform{
		Material: &pb.RunSecret{ItemId: dispatcher.PlatformItemID, Name: dispatcher.PlatformItemID, Version: platformVersion(imp.ChainDER[0]),
			Value: &pb.RunSecret_Certificate{Certificate: &pb.CertificateMaterial{ChainDer: imp.ChainDER, Pkcs8Key: imp.PKCS8Key}}},
		Info: imp.Info,
		PEM:  chain.String(),
	}, nil
}

// platformVersion names a platform certificate by its content: the first 63 bits of its SHA-256,
// so that an agent holding the previous certificate (the controller restarted with a new file)
// sees a different version and fetches the new one.
func platformVersion(leafDER []byte) int64 {
	sum := sha256.Sum256(leafDER)
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
}
