// Package guard screens text that enters or leaves a model: sensitive words
// (Aho-Corasick over a configurable lexicon, with a small default lexicon in
// Chinese and English, matched through folds of width, case, accents,
// look-alike letters, traditional characters, leetspeak and separators),
// personal data (mainland China mobile and landline numbers, resident ID
// numbers with their ISO 7064 check digit, bank cards with Luhn, e-mail,
// IPv4/IPv6 addresses, in their grouped, full-width, Chinese-numeral and
// spelled-out forms) and links (including obfuscated forms such as
// hxxp:// and example[.]com) against allow and deny lists. A Policy
// applies these to user input, model output and retrieved text and decides
// to allow, mask or refuse, reporting every finding with its byte span; a
// Stream applies it to output that arrives token by token without letting
// a finding be split. docs/security-guard.md lists what is and is not
// caught.
//
// It also ships a probe prompt set and the arithmetic of unsafe-output
// rates for the safety suite in package eval.
//
// What guard is not: a classifier. It finds what its lexicon and
// detectors describe, deterministically and fast, and reports spans a
// person can audit; it does not judge intent or paraphrase.
package guard
