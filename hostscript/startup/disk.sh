# shellcheck shell=bash
# disk.sh: the data disk that holds everything Dify keeps.

# ensure_data_disk: find the disk by its device name, format it only when it is
# blank, mount it by UUID with nofail (a missing disk must not stop the boot;
# this script refuses to go on instead) through its systemd mount unit, and
# grow the file system if the disk was resized.
ensure_data_disk() {
	local dev="$DISK_BY_ID/google-$DATA_DISK_DEVICE" i rc=0 fstype uuid line mounted unit
	for ((i = 0; i < 60; i++)); do
		[[ -b $dev ]] && break
		sleep 2
	done
	[[ -b $dev ]] || die "data disk $dev not found: is a disk attached with device name '$DATA_DISK_DEVICE'?"

	# blkid -p probes the device itself; exit 2 means no signature of any kind.
	fstype=$(blkid -p -o value -s TYPE "$dev") || rc=$?
	if ((rc == 2)); then
		info "data disk $dev is blank: creating an ext4 file system"
		mkfs.ext4 -q -m 0 -L dify-data -E lazy_itable_init=0,lazy_journal_init=0,discard "$dev"
	elif ((rc != 0)); then
		die "blkid could not probe $dev (exit $rc)"
	elif [[ $fstype != ext4 ]]; then
		die "data disk $dev holds '${fstype:-a partition table}', not ext4: refusing to format or mount it"
	fi
	uuid=$(blkid -p -o value -s UUID "$dev")
	[[ -n $uuid ]] || die "data disk $dev has no file system UUID"

	mkdir -p "$DATA_MNT"
	line="UUID=$uuid $DATA_MNT ext4 defaults,nofail,discard 0 2"
	if ! grep -qxF -- "$line" /etc/fstab; then
		info "fstab: UUID=$uuid on $DATA_MNT"
		awk -v mnt="$DATA_MNT" '$2 != mnt' /etc/fstab >/etc/fstab.dify-gcp
		printf '%s\n' "$line" >>/etc/fstab.dify-gcp
		chmod 0644 /etc/fstab.dify-gcp
		mv /etc/fstab.dify-gcp /etc/fstab
		systemctl daemon-reload
	fi
	# Through systemd's mount unit, generated from the fstab line: after an
	# unclean stop systemd may be checking or mounting the disk itself (the
	# nofail entry), and a bare `mount` would race it. `systemctl start` joins
	# that job, and runs the file system check first when one is due.
	if ! mountpoint -q "$DATA_MNT"; then
		unit=$(systemd-escape --path --suffix=mount "$DATA_MNT")
		info "mounting $DATA_MNT ($unit)"
		systemctl start "$unit" || die "systemctl start $unit failed: see 'systemctl status $unit' and 'journalctl -u $unit'"
	fi
	mounted=$(findmnt -n -o UUID --mountpoint "$DATA_MNT")
	[[ $mounted == "$uuid" ]] || die "$DATA_MNT holds file system $mounted, expected the data disk's $uuid"
	resize2fs "$dev" >/dev/null 2>&1 || warn "resize2fs $dev failed; the file system keeps its size"
	# nofail keeps a missing disk from stopping the boot, but it also drops the
	# mount's ordering before local-fs.target: without this, Docker could restart
	# Dify's containers at boot on the bare mount point, and PostgreSQL would
	# create an empty database on the boot disk.
	install_file /etc/systemd/system/docker.service.d/10-dify-data-disk.conf 0644 <<UNIT
[Unit]
RequiresMountsFor=$DATA_MNT
UNIT
	if ((CHANGED)); then
		systemctl daemon-reload
	fi
	mkdir -p "$VOLUMES" "$RELEASES"
	info "data disk $dev (UUID $uuid) mounted at $DATA_MNT, $(df -h --output=avail "$DATA_MNT" | tail -n1 | tr -d ' ') free"
}
