# The monitor's tiny test guests (freestanding, ring 0, no kernel): build/guests/*.elf.
TGUEST_SRCS := $(wildcard tests/guests/*.c)
TGUESTS     := $(TGUEST_SRCS:tests/guests/%.c=$(BUILD)/guests/%.elf)
TGUEST_FLAGS := -std=c11 -O2 -ffreestanding -nostdlib -static -fno-pie -no-pie -mno-red-zone \
                -mgeneral-regs-only -fno-stack-protector -Wall -Wextra -Werror -Iinclude \
                -Wl,-T,tests/guests/tiny.ld -Wl,-z,max-page-size=4096 -Wl,--build-id=none

$(BUILD)/guests/%.elf: tests/guests/%.c tests/guests/tiny.h tests/guests/tiny.ld include/laundromat/abi.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(CC) $(TGUEST_FLAGS) -o $@ $<

all: $(TGUESTS)
