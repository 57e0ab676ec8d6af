"""The log-in banner and the status texts the carrier reads (Indonesian / English)."""

from __future__ import annotations

import re

# C0, DEL and C1 controls: a name that could rewrite a terminal or a log line.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

BANNER = (
    "Gateway PDE DJBC: hanya untuk pengangkut yang terdaftar; semua akses dicatat.\r\n"
    "DJBC PDE Gateway: registered carriers only; all access is logged.\r\n"
)

# What the carrier reads in SFTP status replies: Indonesian / English.
MESSAGES: dict[str, tuple[str, str]] = {
    "received": (
        "Diterima sebagai pengajuan {submission}; tanda terima dan tanggapan menyusul di /outbox.",
        "Received as submission {submission}; the receipt and response follow in /outbox.",
    ),
    "too-large": (
        "Berkas melebihi batas {limit} byte; unggahan dihentikan dan tidak diproses.",
        "The file is over the limit of {limit} bytes; the upload is cut and not processed.",
    ),
    "bad-name": (
        "Nama berkas tidak sah (karakter kendali, garis miring terbalik atau terlalu panjang).",
        "Invalid file name (control characters, backslash or too long).",
    ),
    "no-such-path": (
        "Tidak ada; yang tersedia hanya /inbox dan /outbox.",
        "No such path; there are only /inbox and /outbox.",
    ),
    "no-such-file": ("Berkas tidak ada.", "No such file."),
    "upload-only": (
        "Folder /inbox hanya untuk mengunggah; berkas yang diunggah tidak dapat dibaca kembali.",
        "The /inbox folder is for uploading only; uploaded files cannot be read back.",
    ),
    "read-only": (
        "Folder /outbox hanya untuk mengunduh dan menghapus.",
        "The /outbox folder is for downloading and deleting only.",
    ),
    "files-only": (
        "Berkas hanya dapat diunggah ke /inbox atau diunduh dari /outbox.",
        "Files can only be uploaded into /inbox or downloaded from /outbox.",
    ),
    "no-folders": (
        "Folder tidak dapat dibuat, dihapus atau diubah.",
        "Folders cannot be created, removed or changed.",
    ),
    "no-links": ("Tautan (link) tidak diizinkan.", "Links are not allowed."),
    "no-append": (
        "Melanjutkan unggahan tidak didukung; unggah ulang seluruh berkas.",
        "Resuming an upload is not supported; upload the whole file again.",
    ),
    "busy": (
        "Berkas {name} sedang diunggah atau diproses oleh sesi lain.",
        "The file {name} is being uploaded or taken by another session.",
    ),
    "exists": ("Berkas {name} sudah ada.", "The file {name} already exists."),
    "rename-rules": (
        "Ganti nama hanya di /inbox, dari nama sementara (.part, .tmp, diawali titik).",
        "Rename only in /inbox, from a temporary name (.part, .tmp, leading dot).",
    ),
    "too-many-handles": (
        "Terlalu banyak berkas terbuka dalam sesi ini (batas {limit}).",
        "Too many open files in this session (limit {limit}).",
    ),
    "unavailable": (
        "Gateway sementara tidak dapat menerima berkas; berkas ini TIDAK diterima, kirim ulang.",
        "The gateway cannot take files right now; this file was NOT received, send it again.",
    ),
    "overloaded": (
        "Gateway sedang penuh; berkas ini TIDAK diterima, coba lagi beberapa saat lagi.",
        "The gateway is busy; this file was NOT received, try again later.",
    ),
    "disk-full": (
        "Ruang penyimpanan gateway sedang penuh; berkas ini TIDAK diterima, coba lagi beberapa "
        "saat lagi.",
        "The gateway's storage is full; this file was NOT received, try again later.",
    ),
    "failed": (
        "Kesalahan pada gateway; berkas ini TIDAK diterima, kirim ulang.",
        "Gateway error; this file was NOT received, send it again.",
    ),
}


def message(key: str, **fields: object) -> str:
    indonesian, english = MESSAGES[key]
    return f"{indonesian.format(**fields)} / {english.format(**fields)}"


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (it goes into logs and the audit)."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
