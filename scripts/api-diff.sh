#!/usr/bin/env bash
# api-diff: the breaking-change gate (make api-diff). It compares openapi.yaml with the last
# released version of the API and fails when the change would break a client of that version.
#
# The last release is the newest tag vMAJOR.MINOR.PATCH (its openapi.yaml, read with git show);
# before the first tag, and in a clone without tags, the committed api/baseline/openapi.yaml,
# which every release refreshes (docs/api.md, "API versioning").
#
# oasdiff (pinned in go.mod through tools.go) decides what breaks. The gate fails on what it
# rates an error or a warning (possibly breaking: a changed pattern, a removed request
# parameter), and api/breaking-levels.txt raises to errors what our versioning policy counts as
# breaking and oasdiff by default does not:
#   api-operation-id-removed              renaming an operationId renames generated client methods
#   api-schema-removed                    removing or renaming a component renames generated types
#   request-parameter-removed             a client sending it would get a different answer
#   request-property-removed              request bodies allow no unknown member: clients get 400
#   response-optional-property-removed    clients read every field (Rainbond's 13 among them)
#   response-non-success-status-removed   changing a status code
#   response-property-enum-value-removed  removing an enum value
#   response-media-type-name-changed      a client asks for or parses the old media type
#
# --flatten-allof: a schema built with allOf (RegionInfoR, the detail call's answer) is compared
# as the one object it describes, not branch by branch (which reports every member as removed).
#
# Environment: API_DIFF_BASE / API_DIFF_REVISION override the two documents compared (tests use
# them); OASDIFF overrides the command that runs oasdiff (tests pass a built binary).
set -euo pipefail
cd "$(dirname "$0")/.."

revision=${API_DIFF_REVISION:-openapi.yaml}
base=${API_DIFF_BASE:-}
label=$base
if [ -z "$base" ]; then
	tag=$(git tag --list 'v*' --sort=-v:refname | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | head -n 1 || true)
	if [ -n "$tag" ]; then
		base=$(mktemp "${TMPDIR:-/tmp}/openapi-$tag.XXXXXX")
		trap 'rm -f "$base"' EXIT
		git show "$tag:openapi.yaml" >"$base"
		label="openapi.yaml of $tag"
	else
		base=api/baseline/openapi.yaml
		label="$base (no release tag yet)"
	fi
fi

echo "api-diff: $revision against the last release, $label"
# shellcheck disable=SC2086 # OASDIFF may be a command with arguments ("go run ...")
${OASDIFF:-go run github.com/oasdiff/oasdiff} breaking \
	--fail-on WARN --severity-levels api/breaking-levels.txt --flatten-allof --flatten-params --color never \
	"$base" "$revision"
