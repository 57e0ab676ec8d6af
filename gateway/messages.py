"""The catalogue of refusal and warning reasons: stable code -> Indonesian and English text.

Codes never change meaning once published: carriers' systems match on them. Templates use
``str.format`` fields filled from the finding's context.
"""

from __future__ import annotations

from gateway.model.findings import Finding, Location, Severity

CATALOGUE: dict[str, tuple[str, str]] = {
    # The file as a whole
    "FILE-001": ("Berkas kosong.", "The file is empty."),
    "FILE-002": (
        "Ukuran berkas {size} byte melebihi batas {limit} byte.",
        "The file is {size} bytes, over the limit of {limit} bytes.",
    ),
    "FILE-003": (
        "Berkas bukan teks yang sah dalam pengkodean {encoding}: {detail}.",
        "The file is not valid {encoding} text: {detail}.",
    ),
    "FILE-004": (
        "Format berkas tidak dikenali (bukan XML, X12 atau EDIFACT).",
        "The file format is not recognised (not XML, X12 or EDIFACT).",
    ),
    "FILE-005": (
        "Format {format} belum dilayani oleh gateway ini.",
        "The {format} format is not served by this gateway yet.",
    ),
    "FILE-006": (
        "Berkas tidak memuat satu dokumen pun.",
        "The file holds no document.",
    ),
    # XML
    "XML-001": ("XML tidak well-formed: {detail}.", "The XML is not well-formed: {detail}."),
    "XML-002": (
        "Deklarasi DTD/DOCTYPE/ENTITY tidak diizinkan.",
        "DTD, DOCTYPE and ENTITY declarations are not allowed.",
    ),
    "XML-003": ("Tidak sesuai skema: {detail}.", "Not valid against the schema: {detail}."),
    "XML-004": (
        "Elemen akar {root} tidak dikenal.",
        "The root element {root} is not a known document.",
    ),
    # X12 envelope and syntax (the acknowledgment code is in each message)
    "X12-001": (
        "Bukan interchange X12 yang dapat dibaca: {detail}.",
        "Not a readable X12 interchange: {detail}.",
    ),
    "X12-002": (
        "Amplop interchange ditolak (TA1 {ack}): {detail}.",
        "The interchange envelope is refused (TA1 {ack}): {detail}.",
    ),
    "X12-003": (
        "Functional group {group} ditolak (AK905 {ack}): {detail}.",
        "Functional group {group} is refused (AK905 {ack}): {detail}.",
    ),
    "X12-004": (
        "Transaction set {set_id} {control} ditolak (AK502 {ack}): {detail}.",
        "Transaction set {set_id} {control} is refused (AK502 {ack}): {detail}.",
    ),
    "X12-005": (
        "Segmen {segment} pada posisi {position} salah (AK304 {ack}): {detail}.",
        "Segment {segment} at position {position} is wrong (AK304 {ack}): {detail}.",
    ),
    "X12-006": (
        "Elemen {segment}{element:02d} salah (AK403 {ack}): {detail}.",
        "Element {segment}{element:02d} is wrong (AK403 {ack}): {detail}.",
    ),
    "X12-007": (
        "Transaction set {set_id} (GS01 {fic}, GS08 {version}) tidak dilayani gateway ini.",
        "Transaction set {set_id} (GS01 {fic}, GS08 {version}) is not served by this gateway.",
    ),
    "X12-008": (
        "Pengirim ISA06 {sender_id} bukan pengenal X12 pengangkut {sender}.",
        "The ISA06 sender {sender_id} is not carrier {sender}'s X12 identifier.",
    ),
    "DUP-003": (
        "Duplikat: nomor kendali interchange {control} sudah diterima dari pengirim ini.",
        "Duplicate: interchange control number {control} was already received from this sender.",
    ),
    # UN/EDIFACT envelope and syntax (the CONTRL code is in each message)
    "EDI-001": (
        "Bukan interchange EDIFACT yang dapat dibaca: {detail}.",
        "Not a readable EDIFACT interchange: {detail}.",
    ),
    "EDI-002": (
        "Interchange ditolak (CONTRL {ack}): {detail}.",
        "The interchange is refused (CONTRL {ack}): {detail}.",
    ),
    "EDI-003": (
        "Message {reference} ditolak (CONTRL {ack}): {detail}.",
        "Message {reference} is refused (CONTRL {ack}): {detail}.",
    ),
    "EDI-004": (
        "Segmen {segment} pada posisi {position} salah (CONTRL {ack}): {detail}.",
        "Segment {segment} at position {position} is wrong (CONTRL {ack}): {detail}.",
    ),
    "EDI-005": (
        "Message {type} tidak dilayani gateway ini.",
        "The message {type} is not served by this gateway.",
    ),
    # Sender and office
    "SND-001": (
        "Pengirim {sender} tidak terdaftar.",
        "The sender {sender} is not a registered carrier.",
    ),
    "SND-003": (
        "Pengirim pada amplop {format} ({sender_id}) bukan pengenal pengangkut {sender}.",
        "The {format} envelope's sender ({sender_id}) is not carrier {sender}'s identifier.",
    ),
    "SND-002": (
        "Pengangkut {sender} tidak memiliki perjanjian PDE yang berlaku dengan kantor {office} "
        "(Pasal 13).",
        "The carrier {sender} has no PDE agreement in force with office {office} (Art. 13).",
    ),
    "OFF-001": ("Kantor pabean {office} tidak dikenal.", "The customs office {office} is unknown."),
    "OFF-002": (
        "Kantor pabean {office} tidak melayani saluran {channel} (Pasal 3, 5, 9).",
        "The customs office {office} does not run the {channel} channel (Art. 3, 5, 9).",
    ),
    # Identifiers
    "ID-001": ("NPWP {value} tidak sah.", "The NPWP {value} is not valid."),
    "ID-002": ("Nomor IMO {value} tidak sah.", "The IMO number {value} is not valid."),
    "ID-003": (
        "Nomor peti kemas {value} tidak sah (ISO 6346, digit pemeriksa).",
        "The container number {value} is not valid (ISO 6346 check digit).",
    ),
    "ID-004": (
        "Kode pelabuhan {value} bukan UN/LOCODE yang sah.",
        "The port code {value} is not a valid UN/LOCODE.",
    ),
    "ID-005": (
        "Kode HS {value} harus sekurang-kurangnya 4 digit (Pasal 4 ayat 5).",
        "The HS code {value} must have at least 4 digits (Art. 4(5)).",
    ),
    "ID-006": (
        "Kode negara {value} bukan kode ISO 3166 yang sah.",
        "The country code {value} is not a valid ISO 3166 code.",
    ),
    # Duplicates and references
    "DUP-001": (
        "Duplikat: isi berkas yang sama sudah diterima sebagai {nomor_aju}.",
        "Duplicate: the same content was already received as {nomor_aju}.",
    ),
    "DUP-002": (
        "Duplikat: nomor aju {nomor_aju} sudah dipakai oleh pengirim ini.",
        "Duplicate: submission number {nomor_aju} was already used by this sender.",
    ),
    "AJU-001": (
        "Nomor aju {nomor_aju} tidak sesuai: {detail}.",
        "The submission number {nomor_aju} is not valid: {detail}.",
    ),
    "REF-001": (
        "BC 1.1 nomor {number} tanggal {date} di kantor {office} tidak ditemukan.",
        "BC 1.1 number {number} of {date} at office {office} does not exist.",
    ),
    "REF-002": (
        "Pos {pos} tidak ada dalam BC 1.1 nomor {number}.",
        "Pos {pos} is not in BC 1.1 number {number}.",
    ),
    # Timing (flags and warnings)
    "LATE-001": (
        "RKSP/JKSP terlambat {lateness}: wajib paling lambat 24 jam sebelum kedatangan (Pasal 2).",
        "RKSP/JKSP filed {lateness} late: due at least 24 h before arrival (Art. 2).",
    ),
    "LATE-002": (
        "Outward manifest terlambat {lateness}: wajib paling lambat 24 jam sejak "
        "keberangkatan (Pasal 8 ayat 2).",
        "Outward manifest filed {lateness} late: due at the latest 24 h after departure "
        "(Art. 8(2)).",
    ),
    # Internal
    "SYS-001": (
        "Kesalahan internal gateway; dokumen disimpan dan akan diperiksa operator.",
        "Internal gateway error; the document is kept and an operator will look at it.",
    ),
    # X12 transaction sets (docs/formats/x12.md): what the pyx12 maps cannot check
    "X12-101": (
        "Transaksi X12 {set_id} tidak diterima: gateway menerima 309 (manifest) dan 323 "
        "(RKSP/JKSP).",
        "X12 transaction set {set_id} is not accepted: the gateway takes 309 (manifest) and 323 "
        "(RKSP/JKSP).",
    ),
    "X12-102": (
        "Segmen atau elemen {segment} wajib ada: {detail}.",
        "Segment or element {segment} is required: {detail}.",
    ),
    "X12-103": (
        "Nilai '{value}' pada {element} tidak sah: {detail}.",
        "The value '{value}' in {element} is not valid: {detail}.",
    ),
    "X12-104": (
        "GS03 '{value}' bukan kode kantor pabean 6 digit.",
        "GS03 '{value}' is not a 6-digit customs office code.",
    ),
    "X12-105": (
        "Rujukan {reference} tidak menunjuk ke baris sebelumnya dalam transaksi.",
        "The reference {reference} does not point to an earlier line of the transaction set.",
    ),
    "X12-106": (
        "Susunan transaksi tidak sesuai pedoman X12: {detail}.",
        "The transaction set does not follow the X12 guide: {detail}.",
    ),
    # UN/EDIFACT messages (docs/formats/edifact.md): what the message definitions cannot check
    "EDI-101": (
        "Pesan EDIFACT {message} tidak diterima: gateway menerima CUSREP (RKSP/JKSP) dan CUSCAR "
        "(manifes).",
        "EDIFACT message {message} is not accepted: the gateway takes CUSREP (RKSP/JKSP) and "
        "CUSCAR (manifest).",
    ),
    "EDI-102": (
        "Segmen atau elemen {segment} wajib ada: {detail}.",
        "Segment or element {segment} is required: {detail}.",
    ),
    "EDI-103": (
        "Nilai '{value}' pada {element} tidak sah: {detail}.",
        "The value '{value}' in {element} is not valid: {detail}.",
    ),
    "EDI-104": (
        "LOC+22 '{value}' bukan kode kantor pabean 6 digit.",
        "LOC+22 '{value}' is not a 6-digit customs office code.",
    ),
    "EDI-105": (
        "Rujukan {reference} tidak menunjuk ke data lain dalam pesan.",
        "The reference {reference} does not point to other data in the message.",
    ),
    "EDI-106": (
        "Susunan pesan tidak sesuai pedoman EDIFACT: {detail}.",
        "The message does not follow the EDIFACT guide: {detail}.",
    ),
    "EDI-107": (
        "Fungsi pesan BGM 1225 '{function}' tidak diterima: 9 (asli), 4 (perubahan) atau 5 "
        "(penggantian).",
        "Message function BGM 1225 '{function}' is not accepted: 9 (original), 4 (change) or 5 "
        "(replace).",
    ),
}


def finding(
    code: str,
    *,
    severity: Severity = Severity.ERROR,
    location: Location | None = None,
    **context: object,
) -> Finding:
    """Build a finding from the catalogue, filling its templates with ``context``."""
    template_id, template_en = CATALOGUE[code]
    return Finding(
        code=code,
        severity=severity,
        message_id=template_id.format(**context),
        message_en=template_en.format(**context),
        location=location,
    )
