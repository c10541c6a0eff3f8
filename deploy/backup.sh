#!/bin/sh
# Nightly backup with rotation, run by feedback-backup.timer (docs/deploy.md, "Backups").
#   daily/feedback-YYYY-MM-DD.dump    the newest BACKUP_KEEP_DAILY (14) are kept
#   weekly/feedback-YYYY-MM-DD.dump   Sunday's backup, the newest BACKUP_KEEP_WEEKLY (8) are kept
# then, when BACKUP_COPY_TO is set (user@host:/path), a copy off this machine with rsync.
# A failed backup exits non-zero (systemd marks the unit failed; monitoring should alert on it)
# and never replaces or rotates away a good one.
set -eu
cd "$(dirname "$0")/.."
DIR="${BACKUP_DIR:-/var/backups/feedback}"
KEEP_DAILY="${BACKUP_KEEP_DAILY:-14}"
KEEP_WEEKLY="${BACKUP_KEEP_WEEKLY:-8}"
DAY="$(TZ=Asia/Ho_Chi_Minh date +%F)"
mkdir -p "$DIR/daily" "$DIR/weekly"
umask 077  # backups hold every response and the staff accounts

FILE="$DIR/daily/feedback-$DAY.dump"
.venv/bin/flask --app wsgi backup -o "$FILE"
if [ "$(TZ=Asia/Ho_Chi_Minh date +%u)" = 7 ]; then
    ln -f "$FILE" "$DIR/weekly/feedback-$DAY.dump"
fi

# Keep the newest N of each (names sort by date); never the one just written.
prune() {
    ls -1 "$1"/feedback-*.dump 2>/dev/null | sort -r | tail -n +"$(($2 + 1))" | while read -r old; do
        [ "$old" = "$FILE" ] || rm -f -- "$old"
    done
}
prune "$DIR/daily" "$KEEP_DAILY"
prune "$DIR/weekly" "$KEEP_WEEKLY"

if [ -n "${BACKUP_COPY_TO:-}" ]; then
    rsync -a --delete "$DIR/" "$BACKUP_COPY_TO/"
fi
echo "backup $FILE done; $(ls -1 "$DIR/daily" | wc -l) daily and $(ls -1 "$DIR/weekly" | wc -l) weekly kept"
