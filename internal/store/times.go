package store

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The times every backend can store: MySQL's DATETIME holds years 1000 to 9999, at microseconds.
var (
	MinTime = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// ErrTimeOutOfRange: a time outside [MinTime, MaxTime]. Nothing was written.
var ErrTimeOutOfRange = errors.New("time outside what the database can store (" + MinTime.Format(time.RFC3339) + " to " + MaxTime.Format(time.RFC3339Nano) + ")")

// Storable reports whether every backend can store t, at the microsecond precision they keep.
func Storable(t time.Time) bool {
	u := t.UTC().Truncate(time.Microsecond)
	return !u.Before(MinTime) && !u.After(MaxTime)
}

// storedTime is a nullable time column that reads without failing: a value that is not a time
// (text an older version wrote into SQLite for a year past 9999, or another tool's garbage) is
// kept as Unreadable for the caller to report, instead of failing the whole query.
type storedTime struct {
	Time       time.Time
	Valid      bool   // not NULL
	Unreadable string // the stored value, when it is not a time
}

func storedTimeOf(t *time.Time) storedTime {
	if t == nil {
		return storedTime{}
	}
	return storedTime{Time: t.UTC(), Valid: true}
}

func (t storedTime) Value() (driver.Value, error) {
	if !t.Valid {
		return nil, nil
	}
	return t.Time, nil
}

// Text layouts a time column may hold: SQLite's driver writes the first.
var storedTimeLayouts = []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

func (t *storedTime) Scan(v any) error {
	*t = storedTime{Valid: v != nil}
	var text string
	switch x := v.(type) {
	case nil:
		return nil
	case time.Time:
		t.Time = x.UTC()
		return nil
	case string:
		text = x
	case []byte:
		text = string(x)
	default:
		text = fmt.Sprint(x)
	}
	for _, layout := range storedTimeLayouts {
		if p, err := time.Parse(layout, text); err == nil {
			t.Time = p.UTC()
			return nil
		}
	}
	if year, _, ok := strings.Cut(text, "-"); ok && len(year) > 4 && strings.Trim(year, "0123456789") == "" {
		t.Time = MaxTime.Add(time.Microsecond) // a year past 9999: later than any storable time
		return nil
	}
	t.Unreadable = text
	return nil
}
