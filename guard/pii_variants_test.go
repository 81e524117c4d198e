package guard

import (
	"strings"
	"testing"
)

// The spellings of personal data that people and documents use besides
// the plain ones, each found with its normalized value.
func TestFindPIIVariants(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"电话 138.0013.8000 。", []string{"phone:138.0013.8000=13800138000"}},
		{"tel 138/0013/8000", []string{"phone:138/0013/8000=13800138000"}},
		{"tel 138  0013  8000 ok", []string{"phone:138  0013  8000=13800138000"}},
		{"tel 138--0013--8000", []string{"phone:138--0013--8000=13800138000"}},
		{"+86 138-0013-8000", []string{"phone:+86 138-0013-8000=13800138000"}},
		{"ID 110105--19491231002X.", []string{"id_card:110105--19491231002X=11010519491231002X"}},
		{"ID 110105.19491231.002X", []string{"id_card:110105.19491231.002X=11010519491231002X"}},
		{"ID 110105 19491231 002X", []string{"id_card:110105 19491231 002X=11010519491231002X"}},
		{"mail zhang[at]example[dot]com now", []string{"email:zhang[at]example[dot]com=zhang@example.com"}},
		{"mail zhang [at] example [dot] com now", []string{"email:zhang [at] example [dot] com=zhang@example.com"}},
		{"mail Zhang(AT)Example(DOT)org", []string{"email:Zhang(AT)Example(DOT)org=zhang@example.org"}},
		{"邮箱：张三@例子.中国。", []string{"email:张三@例子.中国=张三@例子.中国"}},
		{"邮箱ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ", []string{"email:ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ=zhang@example.com"}},
		{"手机一三八零零一三八零零零，谢谢", []string{"phone:一三八零零一三八零零零=13800138000"}},
		{"手机一三八〇〇一三八〇〇〇", []string{"phone:一三八〇〇一三八〇〇〇=13800138000"}},
		{"手机 一三八 零零一三 八零零零", []string{"phone:一三八 零零一三 八零零零=13800138000"}},
		{"手机幺三八零零幺三八零零零", []string{"phone:幺三八零零幺三八零零零=13800138000"}},
		{"手机１３８－００１３－８０００", []string{"phone:１３８－００１３－８０００=13800138000"}},
		{"座机 010-62345678。", []string{"phone:010-62345678=01062345678"}},
		{"座机 (010) 6234 5678", []string{"phone:(010) 6234 5678=01062345678"}},
		{"座机（010）6234-5678", []string{"phone:（010）6234-5678=01062345678"}},
		{"深圳 0755-12345678 转 8", []string{"phone:0755-12345678=075512345678"}},
		{"深圳 0755-22345678", []string{"phone:0755-22345678=075522345678"}},
		{"卡 6222.0212.3456.7890.128", []string{"bank_card:6222.0212.3456.7890.128=6222021234567890128"}},
	}
	for _, c := range cases {
		got := piiStrings(c.text)
		if strings.Join(got, " | ") != strings.Join(c.want, " | ") {
			t.Errorf("FindPII(%q)\n got %q\nwant %q", c.text, got, c.want)
		}
	}
}

// Dates, prices, versions, decimals, names and ordinary numbers written
// with the same separators are not personal data.
func TestFindPIIVariantsNegative(t *testing.T) {
	for _, text := range []string{
		"2024.05.07", "2024/05/07", "2024-05-07", "2024  05  07", "1949.12.31", "19491231",
		"价格 138.00 元", "13.800138000", "pi is 3.13812345678", "3.13812345678 1",
		"version 1.38.0013.8000", "v10.0.19045.3803", "1.2.3.4.5",
		"138.0013.800", "138/0013/80001", "12345678901", "02-62345678", "010-02345678", "010-0234567", "0755-123456",
		"0755-6234567890", "(01) 6234 5678",
		"张三和李四去了王五家", "第一二三章", "一三八零", "三八妇女节，五一劳动节，十一国庆节",
		"look [at] this", "meet me [at] noon [dot] ok", "a[at]b",
		"ISBN 978-7-111-54742-6", "电话区号 010，邮编 100871",
		"2019 2020 2021 2022 2023 2024",
		"6222 0212 3456 7890 127", // Luhn fails
		"110105--194912310021", "110105.19491231.0021",
	} {
		if got := piiStrings(text); len(got) > 0 {
			t.Errorf("FindPII(%q) = %q, want nothing", text, got)
		}
	}
}

// Masked variants stay masked, and partial masks show no more digits
// than of the plain form.
func TestRedactVariants(t *testing.T) {
	p := DefaultPolicy()
	p.Mask = MaskPartial
	for text, want := range map[string]string{
		"手机一三八零零一三八零零零":            "手机一三八****八零零零",
		"tel 138.0013.8000":        "tel 138.****.8000",
		"zhang[at]example[dot]com": "************************",
	} {
		got, _ := p.Redact(text)
		if got != want {
			t.Errorf("Redact(%q) = %q, want %q", text, got, want)
		}
		if again, _ := p.Redact(got); again != got {
			t.Errorf("Redact(%q) again = %q", got, again)
		}
	}
}
