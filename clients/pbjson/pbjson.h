/* pbjson — any protobuf-c message as a jansson object, driven by its descriptor,
 * so `--json` output follows the .proto field names without hand-written code.
 * Conventions (proto3 JSON mapping): 64-bit integers as JSON numbers (our values
 * fit in 2^53), enums as their names, bytes as base64 is not needed (omitted),
 * unset oneof members and empty repeated fields left out, scalars always present. */
#ifndef CCMCTL_PBJSON_H
#define CCMCTL_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/* Returns a new reference (caller json_decref()s), or NULL when out of memory. */
json_t *ccm_pbjson(const ProtobufCMessage *msg);

#endif
