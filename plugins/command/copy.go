package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
)

// copySource is the `source` input of CopyToRemote: exactly one of Asset and Archive.
type copySource struct {
	Asset   *asset.Asset
	Archive *archive.Archive
}

// validate accepts what command:remote:CopyToRemote accepts: FileAsset, StringAsset, FileArchive.
func (s copySource) validate() error {
	switch {
	case s.Asset != nil:
		if s.Asset.IsURI() {
			return errors.New("source: a RemoteAsset is not supported; use a FileAsset or a StringAsset")
		}
	case s.Archive != nil:
		if !s.Archive.IsPath() {
			return errors.New("source: only a FileArchive (a local directory or archive file) is supported")
		}
	default:
		return errors.New("source must be a FileAsset, StringAsset or FileArchive")
	}
	return nil
}

// copyToRemote copies the source over SFTP on a new SSH connection. Semantics of remotePath: parent
// directories are created; an existing directory receives the source inside it (under the source's base
// name); an existing file is overwritten by a file source; a directory source onto an existing file fails.
// Archive files (.tgz, .zip) are copied as they are, not unpacked. wd resolves relative paths.
func copyToRemote(ctx context.Context, conn *Connection, src copySource, remotePath, wd string, status statusFunc) error {
	if err := src.validate(); err != nil {
		return err
	}
	if remotePath == "" {
		return errors.New("remotePath is required")
	}
	client, err := conn.dial(ctx, status)
	if err != nil {
		return fmt.Errorf("%w: %s", err, describeConn(conn))
	}
	defer client.Close()
	sc, err := sftp.NewClient(client.Client)
	if err != nil {
		return fmt.Errorf("could not start SFTP on %s: %w", describeConn(conn), err)
	}
	defer sc.Close()

	localPath := ""
	if src.Asset != nil && src.Asset.IsPath() {
		localPath = src.Asset.Path
	} else if src.Archive != nil {
		localPath = src.Archive.Path
	}
	if localPath != "" && !filepath.IsAbs(localPath) && wd != "" {
		localPath = filepath.Join(wd, localPath)
	}

	remoteInfo, statErr := sc.Stat(remotePath)
	remoteIsDir := statErr == nil && remoteInfo.IsDir()

	if src.Archive != nil {
		li, err := os.Stat(localPath)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if li.IsDir() {
			if statErr == nil && !remoteIsDir {
				return fmt.Errorf("cannot copy directory %s onto %s: it is an existing file", localPath, remotePath)
			}
			target := remotePath
			if remoteIsDir {
				target = path.Join(remotePath, filepath.Base(localPath))
			}
			return copyDir(ctx, sc, localPath, target)
		}
		// An archive file is copied as-is.
		return copyFile(sc, func() (io.ReadCloser, error) { return os.Open(localPath) }, li.Mode().Perm(),
			fileTarget(remotePath, remoteIsDir, localPath))
	}

	// Assets.
	if src.Asset.IsText() || !src.Asset.IsPath() {
		if remoteIsDir {
			return fmt.Errorf("remotePath %s is a directory, and a StringAsset has no file name: give the file's path", remotePath)
		}
		text := src.Asset.Text
		return copyFile(sc, func() (io.ReadCloser, error) { return io.NopCloser(stringReader(text)), nil }, 0o644, remotePath)
	}
	li, err := os.Stat(localPath)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if li.IsDir() {
		return fmt.Errorf("source: FileAsset %s is a directory; use a FileArchive", localPath)
	}
	return copyFile(sc, func() (io.ReadCloser, error) { return os.Open(localPath) }, li.Mode().Perm(),
		fileTarget(remotePath, remoteIsDir, localPath))
}

func fileTarget(remotePath string, remoteIsDir bool, localPath string) string {
	if remoteIsDir {
		return path.Join(remotePath, filepath.Base(localPath))
	}
	return remotePath
}

func copyFile(sc *sftp.Client, open func() (io.ReadCloser, error), mode fs.FileMode, target string) error {
	if dir := path.Dir(target); dir != "." && dir != "/" {
		if err := sc.MkdirAll(dir); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	in, err := open()
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer in.Close()
	out, err := sc.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("opening %s on the remote host: %w", target, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("writing %s: %w", target, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	if err := sc.Chmod(target, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", target, err)
	}
	return nil
}

func copyDir(ctx context.Context, sc *sftp.Client, localDir, target string) error {
	return filepath.WalkDir(localDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, err := filepath.Rel(localDir, p)
		if err != nil {
			return err
		}
		dst := target
		if rel != "." {
			dst = path.Join(target, filepath.ToSlash(rel))
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := sc.MkdirAll(dst); err != nil {
				return fmt.Errorf("creating %s: %w", dst, err)
			}
			// The owner keeps write access, or the files inside a read-only directory could not be written.
			return sc.Chmod(dst, info.Mode().Perm()|0o700)
		case info.Mode().IsRegular():
			return copyFile(sc, func() (io.ReadCloser, error) { return os.Open(p) }, info.Mode().Perm(), dst)
		case info.Mode()&fs.ModeSymlink != 0:
			// Follow the link, as a copy of the directory's contents would.
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				return copyDir(ctx, sc, p, dst)
			}
			return copyFile(sc, func() (io.ReadCloser, error) { return os.Open(p) }, fi.Mode().Perm(), dst)
		default:
			return nil // sockets, devices: skipped
		}
	})
}
