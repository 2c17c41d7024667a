#!/usr/bin/env node
// Independent check of ccm-watch's X12 837P output with npm's node-x12 parser:
// the file must parse (strict), IEA/GE/SE counts and control numbers must match
// their headers, the transaction must be an 005010X222A1 837, and CLM05-3 (claim
// frequency) must be the one expected.
// Usage: node check837.js FILE [EXPECTED_FREQUENCY]   (exit 0 ok, 1 failed, 77 skipped)
'use strict'
const fs = require('fs')

let X12Parser
try {
  ({ X12Parser } = require('node-x12'))
} catch (e) {
  console.log('SKIP: node-x12 is not installed; run `npm ci` in tests/x12')
  process.exit(77)
}

const [file, frequency] = process.argv.slice(2)
if (!file) {
  console.error('usage: check837.js FILE [EXPECTED_FREQUENCY]')
  process.exit(2)
}
const failures = []
function expect (what, actual, expected) {
  if (String(actual) !== String(expected)) failures.push(`${what}: got "${actual}", expected "${expected}"`)
}

const edi = fs.readFileSync(file, 'utf8')
let ic
try {
  ic = new X12Parser(true).parse(edi)
} catch (e) {
  console.error(`FAIL ${file}: node-x12 cannot parse it: ${e.message}`)
  process.exit(1)
}
if (!ic.functionalGroups) {
  console.error(`FAIL ${file}: more than one interchange in one file`)
  process.exit(1)
}
const isa = ic.header
const iea = ic.trailer
expect('ISA12 version', isa.valueOf(12), '00501')
// node-x12 reads ISA13 as a number ("000000101" -> "101"): check the raw text too.
const rawIsa = edi.slice(0, 106).split(edi[3]) // ISA's 4th character is the element delimiter
expect('ISA is 106 characters', edi[105], '~')
expect('ISA13 is 9 digits', /^\d{9}$/.test(rawIsa[13]), true)
expect('ISA13 parsed = raw', Number(isa.valueOf(13)), Number(rawIsa[13]))
expect('IEA01 group count', iea.valueOf(1), ic.functionalGroups.length)
expect('IEA02 = ISA13', iea.valueOf(2), isa.valueOf(13))
expect('IEA02 = ISA13 (raw)', /IEA\*\d+\*(\d+)~\s*$/.exec(edi)?.[1], rawIsa[13])
let claims = 0
for (const g of ic.functionalGroups) {
  expect('GS01', g.header.valueOf(1), 'HC')
  expect('GS08', g.header.valueOf(8), '005010X222A1')
  expect('GE01 transaction count', g.trailer.valueOf(1), g.transactions.length)
  expect('GE02 = GS06', g.trailer.valueOf(2), g.header.valueOf(6))
  expect('GS06 derived from ISA13', Number(g.header.valueOf(6)), Number(isa.valueOf(13)))
  for (const t of g.transactions) {
    expect('ST01', t.header.valueOf(1), '837')
    expect('ST03', t.header.valueOf(3), '005010X222A1')
    expect('SE01 segment count (ST..SE)', t.trailer.valueOf(1), t.segments.length + 2)
    expect('SE02 = ST02', t.trailer.valueOf(2), t.header.valueOf(2))
    const tags = t.segments.map(s => s.tag)
    for (const need of ['BHT', 'NM1', 'HL', 'SBR', 'CLM', 'HI', 'LX', 'SV1', 'DTP']) {
      if (!tags.includes(need)) failures.push(`segment ${need} missing`)
    }
    const nm1 = t.segments.filter(s => s.tag === 'NM1').map(s => s.valueOf(1))
    for (const q of ['41', '40', '85', 'IL', 'PR']) {
      if (!nm1.includes(q)) failures.push(`NM1*${q} missing`)
    }
    for (const clm of t.segments.filter(s => s.tag === 'CLM')) {
      claims++
      const pos = clm.valueOf(5).split(':')
      expect('CLM05-2 facility qualifier', pos[1], 'B')
      if (frequency) expect('CLM05-3 frequency', pos[2], frequency)
      const f8 = t.segments.some(s => s.tag === 'REF' && s.valueOf(1) === 'F8')
      expect('REF*F8 present exactly for a replacement (7)', f8, pos[2] === '7')
    }
    const lx = t.segments.filter(s => s.tag === 'LX').length
    const sv1 = t.segments.filter(s => s.tag === 'SV1').length
    expect('one SV1 per LX', sv1, lx)
  }
}
expect('claims', claims > 0, true)
if (failures.length) {
  for (const f of failures) console.error(`FAIL ${file}: ${f}`)
  process.exit(1)
}
console.log(`ok ${file}: ISA13 ${isa.valueOf(13)}, ${claims} claim(s), node-x12 parse and counts agree`)
