"""A minimal MaxMind DB reader for the benchmark tools: longest-prefix lookup of one address.

Reads the metadata, walks the search tree (record sizes 24, 28 and 32) and decodes the
data section types the shipped databases use (maps, strings, unsigned integers, doubles,
arrays, booleans, pointers). Enough for `geoip/geo-whois-asn-country.mmdb` (`country_code`)
and `geoip/asn.mmdb` (`autonomous_system_number`); no caching beyond the file in memory.
"""

import ipaddress
import struct

MARKER = b"\xab\xcd\xefMaxMind.com"


class Reader:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        at = self.buf.rfind(MARKER)
        if at < 0:
            raise ValueError(f"{path}: not a MaxMind DB")
        self.meta, _ = self._decode(at + len(MARKER), at + len(MARKER))
        self.nodes = self.meta["node_count"]
        self.record = self.meta["record_size"]
        self.tree_size = (self.record * 2 // 8) * self.nodes
        self.data_start = self.tree_size + 16
        self.ip_version = self.meta["ip_version"]
        self._v4_start = None

    def _read_node(self, node, bit):
        size = self.record
        base = node * size * 2 // 8
        b = self.buf
        if size == 24:
            off = base + bit * 3
            return int.from_bytes(b[off : off + 3], "big")
        if size == 28:
            if bit == 0:
                return ((b[base + 3] & 0xF0) << 20) | int.from_bytes(b[base : base + 3], "big")
            return ((b[base + 3] & 0x0F) << 24) | int.from_bytes(b[base + 4 : base + 7], "big")
        off = base + bit * 4
        return int.from_bytes(b[off : off + 4], "big")

    def lookup(self, addr):
        """(prefix length, record or None) for an address (string or ipaddress object)."""
        ip = ipaddress.ip_address(addr)
        bits = ip.max_prefixlen
        value = int(ip)
        node = 0
        depth = 0
        if ip.version == 4 and self.ip_version == 6:
            if self._v4_start is None:
                n = 0
                for _ in range(96):
                    if n >= self.nodes:
                        break
                    n = self._read_node(n, 0)
                self._v4_start = n
            node = self._v4_start
        for depth in range(bits):
            if node >= self.nodes:
                break
            bit = (value >> (bits - 1 - depth)) & 1
            node = self._read_node(node, bit)
        else:
            depth = bits
        if node == self.nodes:
            return depth, None
        if node < self.nodes:
            return depth, None
        offset = node - self.nodes + self.tree_size
        record, _ = self._decode(offset, self.data_start)
        return depth, record

    def _decode(self, pos, base):
        b = self.buf
        ctrl = b[pos]
        pos += 1
        kind = ctrl >> 5
        if kind == 1:  # pointer
            size = (ctrl >> 3) & 0x3
            low = ctrl & 0x7
            if size == 0:
                ptr = (low << 8) | b[pos]
            elif size == 1:
                ptr = ((low << 16) | int.from_bytes(b[pos : pos + 2], "big")) + 2048
            elif size == 2:
                ptr = ((low << 24) | int.from_bytes(b[pos : pos + 3], "big")) + 526336
            else:
                ptr = int.from_bytes(b[pos : pos + 4], "big")
            value, _ = self._decode(base + ptr, base)
            return value, pos + size + 1
        if kind == 0:  # extended
            kind = 7 + b[pos]
            pos += 1
        size = ctrl & 0x1F
        if size >= 29:
            extra = size - 28
            n = int.from_bytes(b[pos : pos + extra], "big")
            pos += extra
            size = [0, 29, 285, 65821][extra] + n
        if kind == 2:
            return b[pos : pos + size].decode("utf-8"), pos + size
        if kind == 3:
            return struct.unpack("!d", b[pos : pos + 8])[0], pos + 8
        if kind == 4:
            return b[pos : pos + size], pos + size
        if kind in (5, 6, 9, 10):
            return int.from_bytes(b[pos : pos + size], "big"), pos + size
        if kind == 7:
            out = {}
            for _ in range(size):
                key, pos = self._decode(pos, base)
                out[key], pos = self._decode(pos, base)
            return out, pos
        if kind == 8:
            raw = int.from_bytes(b[pos : pos + size], "big")
            if size == 4 and raw & 0x80000000:
                raw -= 1 << 32
            return raw, pos + size
        if kind == 11:
            out = []
            for _ in range(size):
                v, pos = self._decode(pos, base)
                out.append(v)
            return out, pos
        if kind == 14:
            return size != 0, pos
        if kind == 15:
            return struct.unpack("!f", b[pos : pos + 4])[0], pos + 4
        raise ValueError(f"unsupported MaxMind DB type {kind}")
