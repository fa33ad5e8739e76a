package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
)

var (
	// ErrNotFound: no such row in the caller's enterprise.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique value (region_name in an enterprise) is taken.
	ErrConflict = errors.New("conflict")
	// ErrVersionMismatch: the row changed since the version the caller based its write on.
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrSecretUnreadable: a stored key_file does not decrypt with this server's keys.
	ErrSecretUnreadable = errors.New("a stored key_file cannot be decrypted with the configured keys")
	// ErrUnavailable: the database is unreachable, overloaded or too slow. Nothing was written.
	ErrUnavailable = errors.New("database unavailable")
)

// unavailable wraps a cause so that errors.Is(err, ErrUnavailable) holds while the cause stays
// available to the log.
type unavailable struct{ cause error }

func (u unavailable) Error() string        { return fmt.Sprintf("database unavailable: %v", u.cause) }
func (u unavailable) Is(target error) bool { return target == ErrUnavailable }
func (u unavailable) Unwrap() error        { return u.cause }

// classify maps driver errors onto the store's errors.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict), errors.Is(err, ErrVersionMismatch), errors.Is(err, ErrUnavailable),
		errors.Is(err, ErrSecretUnreadable):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ErrConflict
	case errors.Is(err, context.Canceled):
		return err // the client went away; nothing to report to it
	case isTransient(err):
		return unavailable{err}
	}
	return err
}

// isTransient reports errors that mean "the database cannot answer now" rather than "this
// request is wrong": timeouts, refused or broken connections, overload, lock timeouts.
func isTransient(err error) bool {
	for _, target := range []error{context.DeadlineExceeded, driver.ErrBadConn, sql.ErrConnDone,
		mysql.ErrInvalidConn, mysql.ErrPktSync, mysql.ErrPktSyncMul, mysql.ErrBusyBuffer,
		io.EOF, io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, target) {
			return true
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		// 1047: a Galera node that is not part of the primary component (joining, partitioned,
		// or told to reject queries) refuses every statement; 1927: the server killed the
		// connection (shutting down).
		case 1040, 1047, 1205, 1213, 1053, 1077, 1078, 1079, 1080, 1152, 1153, 1159, 1160, 1161, 1927, 2002, 2003, 2006, 2013:
			return true
		}
		return myErr.SQLState == [5]byte{'4', '0', '0', '0', '1'}
	}
	msg := err.Error()
	for _, s := range []string{"database is locked", "SQLITE_BUSY", "connection refused", "broken pipe", "bad connection", "i/o timeout", "sql: database is closed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// isConflict reports a write that lost to a concurrent one and was rolled back whole, so that
// running it again is safe: a deadlock, or on Galera a certification failure, which the server
// reports the same way (1213, SQLSTATE 40001), at COMMIT or at the statement after the winner's
// write arrived.
func isConflict(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && (myErr.Number == 1213 || myErr.SQLState == [5]byte{'4', '0', '0', '0', '1'})
}

// isNotReady reports a Galera node that refuses statements: it is not in the primary component,
// or the operator told it to reject queries. Another node may well answer.
func isNotReady(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr) && myErr.Number == 1047
}
