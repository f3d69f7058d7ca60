#!/usr/bin/env node
import "../dist/services/cli/main.js"
