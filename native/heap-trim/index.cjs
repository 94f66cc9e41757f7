'use strict';
// Built by node-gyp at install (no prebuilt download).
module.exports = require('./build/Release/heap_trim.node');
