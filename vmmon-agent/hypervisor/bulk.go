package hypervisor

/*
#cgo pkg-config: libvirt
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static int vmmonAllDomainStats(virConnectPtr c, unsigned int stats, unsigned int flags,
                               virDomainStatsRecordPtr **out, virErrorPtr err) {
	int n = virConnectGetAllDomainStats(c, stats, out, flags);
	if (n < 0) {
		memset(err, 0, sizeof(*err));
		virCopyLastError(err);
	}
	return n;
}

// vmmonDomainIdent writes the domain's UUID into uuid (VIR_UUID_BUFLEN raw
// bytes; the agent formats it) and returns its name, or NULL.
static const char *vmmonDomainIdent(virDomainPtr d, unsigned char *uuid) {
	if (virDomainGetUUID(d, uuid) < 0) {
		return NULL;
	}
	return virDomainGetName(d);
}

static void vmmonCopyError(virErrorPtr err) {
	memset(err, 0, sizeof(*err));
	virCopyLastError(err);
	virResetLastError();
}

// vmmonDomainRead reads one domain with the per-domain calls, in one call
// from Go: its info and, when it runs, its vCPUs' times (into *vcpus, which
// the caller frees), and each disk's and NIC's counters (devs holds their
// NUL-terminated names one after the other), recording each call's error.
// kept is the domain as the caller holds it (from a bulk answer it keeps,
// which outlives this call), or NULL when the caller has none: the domain is
// then looked up by uuid, and released here.
static int vmmonDomainRead(virConnectPtr c, virDomainPtr kept, const char *uuid, virDomainInfoPtr info, virErrorPtr err,
                           int wantVcpus, virVcpuInfoPtr *vcpus, int *nvcpus,
                           const char *devs, int ndisks, int nnics,
                           virDomainBlockStatsStruct *bstats, virDomainInterfaceStatsStruct *istats,
                           virErrorPtr deverrs) {
	virDomainPtr d = kept;
	int rc = 0;
	*nvcpus = 0;
	if (d == NULL) {
		d = virDomainLookupByUUIDString(c, uuid);
	}
	if (d == NULL) {
		vmmonCopyError(err);
		return -1;
	}
	if (virDomainGetInfo(d, info) < 0) {
		vmmonCopyError(err);
		rc = -1;
		goto done;
	}
	if (info->state != VIR_DOMAIN_RUNNING && info->state != VIR_DOMAIN_PAUSED && info->state != VIR_DOMAIN_BLOCKED) {
		goto done;
	}
	if (wantVcpus && info->nrVirtCpu > 0) {
		*vcpus = calloc(info->nrVirtCpu, sizeof(virVcpuInfo));
		if (*vcpus != NULL) {
			*nvcpus = virDomainGetVcpus(d, *vcpus, info->nrVirtCpu, NULL, 0);
			if (*nvcpus < 0) {
				virResetLastError();
				*nvcpus = 0;
			}
		}
	}
	for (int i = 0; i < ndisks + nnics; i++) {
		int drc = i < ndisks ? virDomainBlockStats(d, devs, &bstats[i], sizeof(bstats[i]))
		                     : virDomainInterfaceStats(d, devs, &istats[i - ndisks], sizeof(istats[i - ndisks]));
		if (drc < 0) {
			vmmonCopyError(&deverrs[i]);
		}
		devs += strlen(devs) + 1;
	}
done:
	if (kept == NULL) {
		virDomainFree(d);
	}
	return rc;
}
*/
import "C"

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"libvirt.org/go/libvirt"
)

// rawConn is the C connection beside the binding's: the binding's
// GetAllDomainStats looks each of a hundred-odd known names up in every
// domain's parameters with a C call apiece, where one pass over them in Go
// reads what libvirt returned.
//
// It also keeps the last bulk answer when it lacked a group asked for of a
// domain (libvirt's test driver gives the state alone), so that the
// per-domain calls reading that domain use the domain the answer holds: no
// lookup by UUID (through libvirtd, a round trip each), and no reference of
// their own to take and release (a libvirt call each, which formats the
// domain's UUID for its debug message). QEMU's answer has every group of a
// running domain: it is not kept.
type rawConn struct {
	ptr C.virConnectPtr

	mu   sync.Mutex // over kept and the answers' refs
	kept *keptAnswer

	lookups atomic.Int64 // domains looked up by UUID, for tests
	freed   atomic.Int64 // kept answers freed, for tests
}

// keptAnswer is a bulk answer held past its call, freed when the last of its
// holders lets it go: the connection, until a newer answer replaces it, and
// each per-domain read using one of its domains (one stuck past its timeout,
// say).
type keptAnswer struct {
	records *C.virDomainStatsRecordPtr
	doms    map[string]C.virDomainPtr // running domains the answer lacked groups of
	refs    int                       // its holders
}

func newRawConn(c *libvirt.Connect) (*rawConn, error) {
	p, err := c.RawPtr() // a reference of our own, closed by close
	if err != nil {
		return nil, err
	}
	return &rawConn{ptr: C.virConnectPtr(unsafe.Pointer(p))}, nil
}

func (r *rawConn) close() {
	if r == nil {
		return
	}
	r.keep(nil)
	r.mu.Lock()
	p := r.ptr
	r.ptr = nil
	r.mu.Unlock()
	if p != nil {
		C.virConnectClose(p) // reads still looking domains up hold their own reference
	}
}

func lastError(e *C.virError) error {
	err := libvirt.Error{
		Code: libvirt.ErrorNumber(e.code), Domain: libvirt.ErrorDomain(e.domain),
		Message: C.GoString(e.message), Level: libvirt.ErrorLevel(e.level),
	}
	C.virResetError(e)
	return err
}

// allDomainStats reads the groups of every domain in one call and converts
// each domain's parameters with conv.
func (r *rawConn) allDomainStats(groups Groups, flags libvirt.ConnectGetAllDomainStatsFlags, conv *converter) ([]Stats, error) {
	var (
		records *C.virDomainStatsRecordPtr
		cerr    C.virError
	)
	n := C.vmmonAllDomainStats(r.ptr, C.uint(toLibvirtGroups(groups)), C.uint(flags), &records, &cerr)
	if n < 0 {
		return nil, lastError(&cerr)
	}
	out := make([]Stats, 0, int(n))
	var doms map[string]C.virDomainPtr
	var uuid [C.VIR_UUID_BUFLEN]C.uchar
	for _, rec := range unsafe.Slice(records, int(n)) {
		name := C.vmmonDomainIdent(rec.dom, &uuid[0])
		if name == nil {
			continue
		}
		params := conv.params[:0]
		cparams := unsafe.Slice(rec.params, int(rec.nparams))
		for i := range cparams {
			params = append(params, readParam(&cparams[i], conv))
		}
		conv.params = params
		s := conv.convert(params)
		s.UUID = formatUUID(unsafe.Slice((*byte)(unsafe.Pointer(&uuid[0])), len(uuid)))
		s.Name = C.GoString(name)
		if s.Groups&groups != groups && s.State != "shutoff" {
			if doms == nil {
				doms = map[string]C.virDomainPtr{}
			}
			doms[s.UUID] = rec.dom
		}
		out = append(out, s)
	}
	if doms == nil {
		C.virDomainStatsRecordListFree(records)
		r.keep(nil)
	} else {
		r.keep(&keptAnswer{records: records, doms: doms, refs: 1})
	}
	return out, nil
}

// keep replaces the answer kept with k (nil for none) and lets the one kept
// before go.
func (r *rawConn) keep(k *keptAnswer) {
	r.mu.Lock()
	old := r.kept
	r.kept = k
	r.mu.Unlock()
	r.release(old)
}

var errClosed = fmt.Errorf("%w: the libvirt connection is closed", ErrConnection)

// domain returns the kept answer's domain of uuid, and the answer, which
// the caller releases once done with the domain. When the answer holds no
// such domain it returns instead the connection to look the domain up on,
// with a reference of the caller's (closed once done), so that a close
// meanwhile does not free it under the read; an error once closed.
func (r *rawConn) domain(uuid string) (C.virDomainPtr, *keptAnswer, C.virConnectPtr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr == nil {
		return nil, nil, nil, errClosed
	}
	if r.kept != nil {
		if d := r.kept.doms[uuid]; d != nil {
			r.kept.refs++
			return d, r.kept, nil, nil
		}
	}
	if C.virConnectRef(r.ptr) != 0 {
		return nil, nil, nil, errClosed
	}
	return nil, nil, r.ptr, nil
}

// release lets k go; its last holder frees it.
func (r *rawConn) release(k *keptAnswer) {
	if k == nil {
		return
	}
	r.mu.Lock()
	k.refs--
	free := k.refs == 0
	r.mu.Unlock()
	if free {
		C.virDomainStatsRecordListFree(k.records)
		r.freed.Add(1)
	}
}

// readParam reads one typed parameter; its name is interned by conv, so that
// the same names read every cycle are not allocated again.
func readParam(p *C.virTypedParameter, conv *converter) param {
	field := unsafe.Slice((*byte)(unsafe.Pointer(&p.field[0])), len(p.field))
	if i := bytes.IndexByte(field, 0); i >= 0 {
		field = field[:i]
	}
	out := param{paramName: conv.lookup(field)}
	v := unsafe.Pointer(&p.value[0])
	switch p._type {
	case C.VIR_TYPED_PARAM_INT:
		if i := *(*C.int)(v); i >= 0 {
			out.num, out.isNum = uint64(i), true
		}
	case C.VIR_TYPED_PARAM_UINT:
		out.num, out.isNum = uint64(*(*C.uint)(v)), true
	case C.VIR_TYPED_PARAM_LLONG:
		if l := *(*C.longlong)(v); l >= 0 {
			out.num, out.isNum = uint64(l), true
		}
	case C.VIR_TYPED_PARAM_ULLONG:
		out.num, out.isNum = uint64(*(*C.ulonglong)(v)), true
	case C.VIR_TYPED_PARAM_STRING:
		if out.keep { // device names; not paths and the like

			out.str, out.isStr = C.GoString(*(**C.char)(v)), true
		}
	}
	return out
}

// formatUUID writes a UUID's 16 bytes as libvirt does (8-4-4-4-12 hex).
func formatUUID(b []byte) string {
	var out [36]byte
	j := 0
	for i, c := range b[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(out[:])
}

const hexDigits = "0123456789abcdef"

// domainReading is what one domain's per-domain calls returned.
type domainReading struct {
	state, vcpus            int
	cpuTime, memory, maxMem uint64
	vcpuNums                []int
	vcpuTimes               []uint64
	block                   [][4]int64 // rd.reqs, rd.bytes, wr.reqs, wr.bytes; -1 for none
	iface                   [][8]int64 // rx bytes, pkts, errs, drop, then tx
	devErrs                 []error    // disks, then NICs; nil where the call succeeded
}

// readDomain makes the per-domain calls for uuid in one call into C.
func (r *rawConn) readDomain(uuid string, vcpus bool, disks, nics []string) (*domainReading, error) {
	var info C.virDomainInfo
	block := make([]C.virDomainBlockStatsStruct, len(disks)+1)
	iface := make([]C.virDomainInterfaceStatsStruct, len(nics)+1)
	// Go memory handed to C holds no Go pointers: the UUID and the device
	// names, NUL-terminated, one after the other.
	cuuid := append([]byte(uuid), 0)
	var devs []byte
	for _, d := range append(append([]string(nil), disks...), nics...) {
		devs = append(append(devs, d...), 0)
	}
	devs = append(devs, 0)
	deverrs := make([]C.virError, len(disks)+len(nics)+1)
	var (
		cerr      C.virError
		cvcpus    C.virVcpuInfoPtr
		nvcpus    C.int
		wantVcpus C.int
	)
	if vcpus {
		wantVcpus = 1
	}
	d, kept, conn, err := r.domain(uuid)
	if err != nil {
		return nil, err
	}
	if d == nil {
		r.lookups.Add(1)
	}
	rc := C.vmmonDomainRead(conn, d, (*C.char)(unsafe.Pointer(&cuuid[0])), &info, &cerr, wantVcpus, &cvcpus, &nvcpus,
		(*C.char)(unsafe.Pointer(&devs[0])), C.int(len(disks)), C.int(len(nics)), &block[0], &iface[0], &deverrs[0])
	r.release(kept)
	if conn != nil {
		C.virConnectClose(conn)
	}
	out := &domainReading{state: int(info.state), vcpus: int(info.nrVirtCpu), cpuTime: uint64(info.cpuTime),
		memory: uint64(info.memory), maxMem: uint64(info.maxMem)}
	if cvcpus != nil {
		for _, v := range unsafe.Slice(cvcpus, int(nvcpus)) {
			out.vcpuNums = append(out.vcpuNums, int(v.number))
			out.vcpuTimes = append(out.vcpuTimes, uint64(v.cpuTime))
		}
		C.free(unsafe.Pointer(cvcpus))
	}
	if rc < 0 {
		return nil, lastError(&cerr)
	}
	out.devErrs = make([]error, len(disks)+len(nics))
	for i := range out.devErrs {
		if deverrs[i].code != 0 {
			out.devErrs[i] = lastError(&deverrs[i])
		}
	}
	for _, b := range block[:len(disks)] {
		out.block = append(out.block, [4]int64{int64(b.rd_req), int64(b.rd_bytes), int64(b.wr_req), int64(b.wr_bytes)})
	}
	for _, n := range iface[:len(nics)] {
		out.iface = append(out.iface, [8]int64{int64(n.rx_bytes), int64(n.rx_packets), int64(n.rx_errs), int64(n.rx_drop),
			int64(n.tx_bytes), int64(n.tx_packets), int64(n.tx_errs), int64(n.tx_drop)})
	}
	return out, nil
}
