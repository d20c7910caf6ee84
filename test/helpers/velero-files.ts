// What Velero writes to its storage location for one Backup, so tests can expect the exact file list.

/**
 * The files Velero 1.18 (AWS object-store plugin, no CSI) writes for a Backup without volume data,
 * sorted: under `<prefix>/backups/<name>/`.
 */
export const veleroBackupFiles = (name: string) =>
  [
    `${name}-itemoperations.json.gz`,
    `${name}-logs.gz`,
    `${name}-podvolumebackups.json.gz`,
    `${name}-resource-list.json.gz`,
    `${name}-results.gz`,
    `${name}-volumeinfo.json.gz`,
    `${name}-volumesnapshots.json.gz`,
    `${name}.tar.gz`,
    'velero-backup.json',
  ].sort();
