#!/usr/bin/env python3
"""Independent MRTD transcript for vectors.json (not used by node-core; see README.md).

Writes the byte stream the TDX module hashes into MRTD when the VMM adds and extends the TDVF
sections of FIRMWARE page by page (single-pass: TDH.MEM.PAGE.ADD of a page, then its sixteen
TDH.MR.EXTEND chunks). Each operation contributes a 128-byte record: the ASCII operation name
("MEM.PAGE.ADD" or "MR.EXTEND") zero-padded to 16 bytes, the guest physical address as a
little-endian u64, then zeros; an extend record is followed by the 256 bytes extended.
Hash it with a separate tool:  python3 mrtd_transcript.py firmware.fd | sha384sum
"""
import struct
import sys

FOOTER_GUID = bytes.fromhex("de82b596b21ff745baeaa366c55a082d")     # 96b582de-1fb2-45f7-baea-a366c55a082d
TDX_META_GUID = bytes.fromhex("35657ae44a989847865e4685a7bf8ec2")   # e47a6535-984a-4798-865e-4685a7bf8ec2


def sections(fw):
    end = len(fw) - 32
    assert fw[end - 16:end] == FOOTER_GUID, "no OVMF table footer"
    table_len = struct.unpack_from("<H", fw, end - 18)[0]
    start, pos = end - table_len, end - 18
    while pos - 18 >= start:
        length = struct.unpack_from("<H", fw, pos - 18)[0]
        if fw[pos - 16:pos] == TDX_META_GUID:
            offset = struct.unpack_from("<I", fw, pos - 22)[0]
            break
        pos -= length
    else:
        raise SystemExit("no TDX metadata entry")
    desc = len(fw) - offset
    assert fw[desc:desc + 4] == b"TDVF"
    count = struct.unpack_from("<I", fw, desc + 12)[0]
    return [struct.unpack_from("<IIQQII", fw, desc + 16 + 32 * i) for i in range(count)]


def record(op, gpa):
    return op.ljust(16, b"\0") + struct.pack("<Q", gpa) + bytes(104)


def main():
    fw = open(sys.argv[1], "rb").read()
    out = sys.stdout.buffer
    for data_off, raw, gpa, size, _type, attrs in sections(fw):
        memory = fw[data_off:data_off + raw].ljust(size, b"\0")
        for page in range(size // 4096):
            base = gpa + page * 4096
            if not attrs & 2:
                out.write(record(b"MEM.PAGE.ADD", base))
            if attrs & 1:
                for chunk in range(16):
                    out.write(record(b"MR.EXTEND", base + chunk * 256))
                    at = page * 4096 + chunk * 256
                    out.write(memory[at:at + 256])


main()
