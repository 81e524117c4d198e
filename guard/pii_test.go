package guard

import (
	"fmt"
	"strings"
	"testing"
)

// makeID completes 17 digits with their check character, computed here
// independently of IDCheckDigit from the ISO 7064 MOD 11-2 definition:
// the check value c makes Σ a_i·2^(18−i) + c ≡ 1 (mod 11).
func makeID(t *testing.T, first17 string) string {
	t.Helper()
	sum := 0
	w := 1
	weights := make([]int, 18)
	for i := 17; i >= 0; i-- { // position 18 has weight 2^0, position 1 has 2^17
		weights[i] = w
		w = w * 2 % 11
	}
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * weights[i]
	}
	for c := 0; c <= 10; c++ {
		if (sum+c)%11 == 1 {
			if c == 10 {
				return first17 + "X"
			}
			return first17 + fmt.Sprint(c)
		}
	}
	t.Fatal("no check digit")
	return ""
}

func TestResidentID(t *testing.T) {
	// The worked example of GB 11643-1999.
	if !ValidResidentID("11010519491231002X") || !ValidResidentID("11010519491231002x") {
		t.Error("GB 11643 example rejected")
	}
	valid := []string{
		makeID(t, "11010119900307451"),
		makeID(t, "44030620001231123"),
		makeID(t, "32058319850615001"),
		makeID(t, "65010220240229000"), // leap day
		"110105491231002",              // 15-digit: 1949-12-31
	}
	for _, id := range valid {
		if !ValidResidentID(id) {
			t.Errorf("valid ID %s rejected", id)
		}
		if len(id) == 18 {
			if c, ok := IDCheckDigit(id[:17]); !ok || c != id[17] {
				t.Errorf("IDCheckDigit(%s) = %c, want %c", id[:17], c, id[17])
			}
		}
	}
	good := makeID(t, "11010119900307451")
	wrongCheck := good[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", good[17])+1)%11])
	invalid := []string{
		wrongCheck,                          // check digit off by one
		"110105194912310021",                // GB example with a wrong check digit
		makeID(t, "11010119900230451")[:18], // 30 February
		makeID(t, "11010119901301451"),      // month 13
		makeID(t, "11010118991231451"),      // born 1899
		makeID(t, "11010121000101451"),      // born in the future
		makeID(t, "99010119900307451"),      // no such province
		"110105491331002",                   // 15-digit, month 13
		"11010519491231002",                 // 17 digits
		"1101051949123100XX",
	}
	for _, id := range invalid {
		if ValidResidentID(id) {
			t.Errorf("invalid ID %s accepted", id)
		}
	}
}

func TestLuhn(t *testing.T) {
	// Well-known test card numbers of the card networks.
	for _, n := range []string{"4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "6250941006528599", "79927398713"} {
		if !LuhnValid(n) {
			t.Errorf("Luhn(%s) = false", n)
		}
	}
	for _, n := range []string{"4111111111111112", "5555555555554440", "79927398710", "1", "", "4111a11111111111"} {
		if LuhnValid(n) {
			t.Errorf("Luhn(%q) = true", n)
		}
	}
}

func piiStrings(text string) []string {
	var out []string
	for _, p := range FindPII(text) {
		out = append(out, fmt.Sprintf("%s:%s=%s", p.Kind, text[p.Start:p.End], p.Value))
	}
	return out
}

func TestFindPII(t *testing.T) {
	id := "11010519491231002X"
	cases := []struct {
		text string
		want []string
	}{
		{"我的电话是13812345678，请联系。", []string{"phone:13812345678=13812345678"}},
		{"call 138-1234-5678 or 139 8765 4321", []string{"phone:138-1234-5678=13812345678", "phone:139 8765 4321=13987654321"}},
		{"+86 138 1234 5678", []string{"phone:+86 138 1234 5678=13812345678"}},
		{"+8613812345678", []string{"phone:+8613812345678=13812345678"}},
		{"手机：１３８１２３４５６７８", []string{"phone:１３８１２３４５６７８=13812345678"}},
		{"订单2023 13812345678已发货", []string{"phone:13812345678=13812345678"}},
		// Not phones: inside longer digit runs, decimals, wrong prefix.
		{"编号913812345678", nil},
		{"编号138123456789", nil},
		{"pi is 3.13812345678", nil},
		{"12812345678", nil},
		{"身份证号：" + id + "。", []string{"id_card:" + id + "=" + id}},
		{"卡号 4111 1111 1111 1111 有效", []string{"bank_card:4111 1111 1111 1111=4111111111111111"}},
		{"card 4111-1111-1111-1112", nil}, // fails Luhn
		{"timestamp 1700000000000", nil},  // 13 digits starting with 1: not a card
		{"mail Zhang.San+ai@Example.COM.", []string{"email:Zhang.San+ai@Example.COM=zhang.san+ai@example.com"}},
		{"server 192.168.1.10, gw 10.0.0.1", []string{"ipv4:192.168.1.10=192.168.1.10", "ipv4:10.0.0.1=10.0.0.1"}},
		{"version 1.2.3.4.5 and 256.1.1.1", nil},
		{"v6 2001:db8::8a2e:370:7334 and ::1.", []string{"ipv6:2001:db8::8a2e:370:7334=2001:db8::8a2e:370:7334", "ipv6:::1=::1"}},
		{"at 12:30:45, std::vector, 00:1a:2b:3c:4d:5e", nil},
		{"masked 138****5678 and ***********", nil},
		{"zero\u200bwidth 138\u200b1234\u200b5678", []string{"phone:138\u200b1234\u200b5678=13812345678"}},
	}
	for _, c := range cases {
		got := piiStrings(c.text)
		if strings.Join(got, " | ") != strings.Join(c.want, " | ") {
			t.Errorf("FindPII(%q)\n got %q\nwant %q", c.text, got, c.want)
		}
	}
}
