"""GPO backups per wave: `files.py` (the payload files byte by byte), `backups.py` (one Import-GPO-ready
backup per wave with its rollout, verify and rollback scripts), `outdir.py` (the --out folder: no
writes through links, only over what auditplan wrote, one run at a time)."""
